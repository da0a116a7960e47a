package emulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFaultRate counts failures: a rate of 0.1 fails exactly 10 of 100
// requests, alternating 429 and 503, each with Retry-After.
func TestFaultRate(t *testing.T) {
	s := start(t, Generate(GenerateSpec{Developers: 10, Seed: 1}), Options{FaultRate: 0.1})
	codes := map[int]int{}
	var seq []int
	for range 100 {
		r := get(t, orgURL(s, "acme")+"/developers?count=5")
		codes[r.code]++
		switch r.code {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			r.googleError(t, r.code, "RESOURCE_EXHAUSTED")
		case http.StatusServiceUnavailable:
			r.googleError(t, r.code, "UNAVAILABLE")
		default:
			t.Fatalf("unexpected HTTP %d", r.code)
		}
		if r.code != http.StatusOK {
			seq = append(seq, r.code)
			if _, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil {
				t.Fatalf("fault without a numeric Retry-After: %q", r.header.Get("Retry-After"))
			}
		}
	}
	if codes[http.StatusOK] != 90 || codes[429] != 5 || codes[503] != 5 {
		t.Fatalf("outcomes %v, want 90 OK, 5 429s and 5 503s", codes)
	}
	for i := 1; i < len(seq); i++ {
		if seq[i] == seq[i-1] {
			t.Fatalf("fault codes %v do not alternate", seq)
		}
	}
	if _, err := Start(nil, Options{FaultRate: 1.5}); err == nil {
		t.Fatal("Start accepted a fault rate of 1.5")
	}
	// NewHandler cannot return the error, so every request reports it.
	h := NewHandler(nil, Options{FaultRate: -1})
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, mustRequest(t, "/v1/organizations/acme"))
	if rec.code != http.StatusInternalServerError || !strings.Contains(rec.body.String(), "fault rate") {
		t.Fatalf("bad options gave HTTP %d %s", rec.code, rec.body.String())
	}
}

// TestFaultRetryAfter: the injected 503s carry the Retry-After asked for,
// in whole seconds rounded up, or none when it is negative; the 429s keep
// saying 0.
func TestFaultRetryAfter(t *testing.T) {
	for _, c := range []struct {
		after  time.Duration
		want   string
		has503 bool
	}{{0, "1", true}, {1500 * time.Millisecond, "2", true}, {-1, "", false}} {
		s := start(t, Generate(GenerateSpec{Developers: 1, Seed: 1}), Options{FaultRate: 1, FaultRetryAfter: c.after})
		got := map[int][]string{}
		for range 4 {
			r := get(t, orgURL(s, "acme"))
			got[r.code] = append(got[r.code], r.header.Values("Retry-After")...)
		}
		want503 := []string{c.want, c.want}
		if !c.has503 {
			want503 = nil
		}
		if !slices.Equal(got[http.StatusTooManyRequests], []string{"0", "0"}) || !slices.Equal(got[http.StatusServiceUnavailable], want503) {
			t.Errorf("FaultRetryAfter %v: Retry-After by status %v, want 429: [0 0], 503: %q", c.after, got, want503)
		}
	}
}

func TestRateLimit(t *testing.T) {
	s := start(t, Generate(GenerateSpec{Developers: 1, Seed: 1}), Options{RateLimit: 5})
	for i := range 5 {
		if r := get(t, orgURL(s, "acme")); r.code != http.StatusOK {
			t.Fatalf("request %d within the limit: HTTP %d", i+1, r.code)
		}
	}
	r := get(t, orgURL(s, "acme"))
	r.googleError(t, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED")
	if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q, want whole seconds until a request is allowed", r.header.Get("Retry-After"))
	}
}

func TestBucketRefills(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBucket(60, func() time.Time { return now })
	for range 60 {
		if ok, _ := b.take(); !ok {
			t.Fatal("a full bucket refused a request")
		}
	}
	ok, wait := b.take()
	if ok || wait != time.Second {
		t.Fatalf("empty bucket: ok=%v wait=%v, want a refusal and 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := b.take(); !ok {
		t.Fatal("one second later a 60/min bucket still refused")
	}
}

// TestLatencyOnlyOnLists sets an hour of list latency: a get answers, a list
// is still waiting when the client gives up (no timing is measured).
func TestLatencyOnlyOnLists(t *testing.T) {
	d := Generate(GenerateSpec{Developers: 2, Seed: 1})
	arrived := make(chan struct{}, 1)
	s := start(t, d, Options{Latency: time.Hour, Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/developers") {
			arrived <- struct{}{}
		}
		return false
	}})
	if r := get(t, orgURL(s, "acme")+"/developers/"+d.Orgs[0].Developers[0].GetEmail()); r.code != http.StatusOK {
		t.Fatalf("get under list latency: HTTP %d", r.code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, orgURL(s, "acme")+"/developers", nil)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("a list under an hour of latency answered HTTP %d", res.StatusCode)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("list: %v, want the client's cancellation", err)
	}
}

func TestInterceptAndLogger(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := start(t, Generate(GenerateSpec{Developers: 2, Seed: 1}), Options{
		Logger: log,
		Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Query().Get("broken") != "" {
				io.WriteString(w, `{"developer":[{"email":`)
				return true
			}
			return false
		},
	})
	if r := get(t, orgURL(s, "acme")+"/developers?broken=1"); string(r.body) != `{"developer":[{"email":` {
		t.Fatalf("intercepted body %q", r.body)
	}
	get(t, orgURL(s, "acme")+"/developers?count=1").ok(t)
	if !strings.Contains(logs.String(), "uri=\"/v1/organizations/acme/developers?count=1\"") || !strings.Contains(logs.String(), "status=200") {
		t.Fatalf("request log:\n%s", logs.String())
	}
}

// recorder is the least ResponseWriter for calling a handler directly.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }

func mustRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://emulator"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
