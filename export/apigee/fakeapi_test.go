package apigee

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// fakeAPI models the paging of Apigee's list methods precisely:
// developers and apiproducts page by an inclusive startKey and a count
// capped at 1000 (an unknown startKey is a 404); apps page by
// pageSize/pageToken with nextPageToken and totalSize, filtered by status and keyStatus,
// which defaults to approved. Records come in server order (not sorted).
type fakeAPI struct {
	org  string
	mu   sync.Mutex
	data map[Resource][]proto.Message
	// intercept may answer a request itself (faults); n counts requests.
	intercept func(w http.ResponseWriter, r *http.Request, n int) bool
	requests  []*http.Request
	times     []time.Time
	srv       *httptest.Server
	// exclusiveStartKey makes follow-up pages start after the startKey
	// (a server that does not repeat it).
	exclusiveStartKey bool
	// marshal writes list responses, protojson.Marshal when nil.
	marshal func(proto.Message) []byte
	// unexpanded serves developers in the expand=false shape,
	// {"developer":[{"email":...}]}, even though expand=true was asked
	// for, as the API reference says the real API may with count/startKey.
	unexpanded bool
}

func newFakeAPI(t *testing.T, data map[Resource][]proto.Message) *fakeAPI {
	f := &fakeAPI{org: "acme", data: data}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{WithBaseURL(f.srv.URL), WithoutAuthentication(), WithRetry(4, time.Millisecond, 5*time.Millisecond), WithRateLimit(0)}, opts...)
	c, err := NewClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeAPI) log() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

func (f *fakeAPI) remove(r Resource, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := f.data[r]
	for i, m := range recs {
		if r.Key(m) == key {
			f.data[r] = append(recs[:i:i], recs[i+1:]...)
			return
		}
	}
}

func googleErr(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.times = append(f.times, time.Now())
	n := len(f.requests)
	intercept := f.intercept
	f.mu.Unlock()
	if intercept != nil && intercept(w, r, n) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()

	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/organizations/")
	if !ok || r.Method != http.MethodGet {
		googleErr(w, 404, "NOT_FOUND", "no such method")
		return
	}
	org, coll, _ := strings.Cut(rest, "/")
	if org != f.org {
		googleErr(w, 403, "PERMISSION_DENIED", fmt.Sprintf("Permission denied on resource %q (or it may not exist).", "organizations/"+org))
		return
	}
	if coll == "" {
		json.NewEncoder(w).Encode(map[string]string{"name": org})
		return
	}
	if email, ok := strings.CutPrefix(coll, "developers/"); ok {
		// developers.get
		for _, m := range f.data[Developers] {
			if Developers.Key(m) == email {
				w.Header().Set("Content-Type", "application/json")
				writeProto(w, m)
				return
			}
		}
		googleErr(w, 404, "NOT_FOUND", fmt.Sprintf("DeveloperId %s does not exist", email))
		return
	}
	res := Resource(coll)
	q := r.URL.Query()
	keysOnly := q.Get("expand") == "false" && res == Developers
	if q.Get("expand") != "true" && !keysOnly {
		googleErr(w, 400, "INVALID_ARGUMENT", "the fake serves expanded lists and developers' emails only")
		return
	}
	var out proto.Message
	switch res {
	case Developers, APIProducts:
		count, err := strconv.Atoi(q.Get("count"))
		if err != nil || count < 1 {
			count = 1000
		}
		count = min(count, 1000)
		recs := f.data[res]
		start := 0
		if k := q.Get("startKey"); k != "" {
			start = -1
			for i, m := range recs {
				if res.Key(m) == k {
					start = i
					break
				}
			}
			if start < 0 {
				googleErr(w, 404, "NOT_FOUND", fmt.Sprintf("%s %s does not exist", res.noun(), k))
				return
			}
			if f.exclusiveStartKey {
				start++
			}
		}
		page := recs[start:min(start+count, len(recs))]
		if (f.unexpanded || keysOnly) && res == Developers {
			page = emailsOnly(page)
		}
		out = wrap(res, page)
	case Apps:
		status := q.Get("status")
		if status == "" {
			status = "approved"
		}
		keyStatus := q.Get("keyStatus")
		if keyStatus == "" {
			keyStatus = "approved"
		}
		var match []proto.Message
		for _, m := range f.data[Apps] {
			a := m.(*apigeepb.App)
			keyed := len(a.GetCredentials()) == 0 && keyStatus == "approved" // keyless apps: as the emulator's default
			for _, c := range a.GetCredentials() {
				keyed = keyed || c.GetStatus() == keyStatus
			}
			if a.GetStatus() == status && keyed {
				match = append(match, m)
			}
		}
		status += "/" + keyStatus // tokens are bound to both filters
		size, err := strconv.Atoi(q.Get("pageSize"))
		if err != nil || size < 1 || size > 1000 {
			size = 1000
		}
		off := 0
		if tok := q.Get("pageToken"); tok != "" {
			b, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				googleErr(w, 400, "INVALID_ARGUMENT", "invalid page token")
				return
			}
			off, _ = strconv.Atoi(strings.TrimPrefix(string(b), status+":"))
		}
		off = min(off, len(match))
		end := min(off+size, len(match))
		resp := wrap(Apps, match[off:end]).(*apigeepb.ListAppsResponse)
		if end < len(match) {
			resp.NextPageToken = proto.String(base64.RawURLEncoding.EncodeToString([]byte(status + ":" + strconv.Itoa(end))))
		}
		if len(match) > 0 {
			resp.TotalSize = proto.Int32(int32(len(match))) // Google omits zeros
		}
		out = resp
	default:
		googleErr(w, 404, "NOT_FOUND", "no such collection")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if f.marshal != nil {
		w.Write(f.marshal(out))
		return
	}
	writeProto(w, out)
}

func protojsonMarshal(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

// emailsOnly is devs as the expand=false developers list has them.
func emailsOnly(devs []proto.Message) []proto.Message {
	out := make([]proto.Message, len(devs))
	for i, m := range devs {
		out[i] = &apigeepb.Developer{Email: m.(*apigeepb.Developer).Email}
	}
	return out
}
