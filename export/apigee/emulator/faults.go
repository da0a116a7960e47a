package emulator

import (
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// faults decides which requests fail. The sequence is a pure function of the
// request count, so a test with FaultRate 0.1 sees exactly one failure in
// every ten requests on every run, and retries are exercised without flaky
// randomness.
type faults struct {
	rate   float64
	served atomic.Uint64
	failed atomic.Uint64
}

func newFaults(rate float64) *faults {
	return &faults{rate: min(max(rate, 0), 1)}
}

// next counts a request and reports whether it must fail, and with which
// status: 429 and 503 alternate, the two transient answers clients must retry.
func (f *faults) next() (code int, fail bool) {
	if f.rate <= 0 {
		return 0, false
	}
	n := float64(f.served.Add(1))
	// Request n fails when it carries the running share past a whole
	// number: evenly spread failures, exactly rate of them in the long run.
	if math.Floor(n*f.rate) == math.Floor((n-1)*f.rate) {
		return 0, false
	}
	if f.failed.Add(1)%2 == 1 {
		return http.StatusTooManyRequests, true
	}
	return http.StatusServiceUnavailable, true
}

// bucket is a token bucket holding one minute's worth of requests, refilled
// continuously: a client may burst up to the per-minute quota, then gets the
// steady rate, which is how Apigee's 6000-calls-per-minute quota feels.
type bucket struct {
	mu        sync.Mutex
	perMinute float64
	tokens    float64
	last      time.Time
	now       func() time.Time
}

func newBucket(perMinute int, now func() time.Time) *bucket {
	return &bucket{perMinute: float64(perMinute), tokens: float64(perMinute), last: now(), now: now}
}

// take spends one token. When none is left it reports how long until one is.
func (b *bucket) take() (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.tokens = min(b.perMinute, b.tokens+now.Sub(b.last).Minutes()*b.perMinute)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.perMinute * float64(time.Minute))
}

// throttle is a quota spent for a span of time from the first request.
type throttle struct {
	span  time.Duration
	now   func() time.Time
	once  sync.Once
	until time.Time
}

// on reports whether a request now falls in the throttled span.
func (t *throttle) on() bool {
	now := t.now()
	t.once.Do(func() { t.until = now.Add(t.span) })
	return now.Before(t.until)
}

// dripWriter writes a body one byte at a time, flushing each, every apart,
// until the client goes away. Headers (Content-Length included) go at once.
type dripWriter struct {
	http.ResponseWriter
	ctx   context.Context
	every time.Duration
}

func (d *dripWriter) Write(p []byte) (int, error) {
	rc := http.NewResponseController(d.ResponseWriter)
	t := time.NewTicker(d.every)
	defer t.Stop()
	for i := range p {
		if _, err := d.ResponseWriter.Write(p[i : i+1]); err != nil {
			return i, err
		}
		rc.Flush()
		select {
		case <-t.C:
		case <-d.ctx.Done():
			return i + 1, d.ctx.Err()
		}
	}
	return len(p), nil
}

func (d *dripWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
