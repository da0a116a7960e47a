package apigee_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// startEmulator serves a small generated organization with o.
func startEmulator(t *testing.T, o emulator.Options) (*emulator.Server, *emulator.Data) {
	t.Helper()
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 30, Apps: 30, APIProducts: 30, Seed: 5})
	emu := exporttest.Emulator(t, data, o)
	return emu, data
}

// firstPage reads the first page of r, failing the test if that takes
// longer than a generous liveness bound: a client without deadlines would
// wait forever on some of these servers.
func firstPage(t *testing.T, c *apigee.Client, r apigee.Resource) (*apigee.Page, time.Duration, error) {
	t.Helper()
	type result struct {
		p   *apigee.Page
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		p, err := c.List("acme", r, apigee.Cursor{}).Next(ctx)
		done <- result{p, err}
	}()
	select {
	case res := <-done:
		return res.p, time.Since(start), res.err
	case <-time.After(30 * time.Second):
		t.Fatal("the listing still waits after 30s: a request without a deadline")
		return nil, 0, nil
	}
}

// TestDefaultRetryBudgetAndTimeout: the defaults outlast Apigee's
// per-minute quota window, and every try has a deadline.
func TestDefaultRetryBudgetAndTimeout(t *testing.T) {
	if apigee.DefaultRetryBudget < 2*time.Minute {
		t.Errorf("DefaultRetryBudget %v is shorter than 2 minutes: a throttled minute would fail exports", apigee.DefaultRetryBudget)
	}
	if apigee.DefaultTimeout <= 0 || apigee.DefaultTimeout > 2*time.Minute {
		t.Errorf("DefaultTimeout %v", apigee.DefaultTimeout)
	}
}

// TestThrottledLongerThanEightAttempts: a quota spent for 9 seconds, with
// Retry-After: 1 on every 429, is waited out with the default budget;
// counting 8 attempts would give up after 7 seconds.
func TestThrottledLongerThanEightAttempts(t *testing.T) {
	t.Parallel() // it waits out retries or a large page: run beside the others
	emu, data := startEmulator(t, emulator.Options{Throttle: 9 * time.Second})
	c := exporttest.ApigeeClient(t, emu)
	got, _ := listAll(t, c, apigee.APIProducts)
	if len(got) != len(data.Orgs[0].APIProducts) {
		t.Fatalf("%d products, want %d", len(got), len(data.Orgs[0].APIProducts))
	}
}

// TestThrottledPastTheBudget: a quota that stays spent fails the listing
// with RESOURCE_EXHAUSTED naming the quota and the budget (a short one
// here), once the next Retry-After (1s) no longer fits in what is left of
// it; it was retried until then.
func TestThrottledPastTheBudget(t *testing.T) {
	t.Parallel() // it waits out retries or a large page: run beside the others
	emu, _ := startEmulator(t, emulator.Options{Throttle: time.Hour})
	c := exporttest.ApigeeClient(t, emu, apigee.WithRetryBudget(2500*time.Millisecond))
	_, _, err := firstPage(t, c, apigee.Developers)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED", err)
	}
	for _, want := range []string{"HTTP 429", "Quota exceeded", "quota", "attempts over", "asked to wait 1s (Retry-After)", "2.5s retry budget"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestAPIThatNeverAnswers: an endpoint that accepts requests and never
// answers, or drips its answer a byte at a time, ends the listing with
// DEADLINE_EXCEEDED after the retry budget instead of waiting forever.
func TestAPIThatNeverAnswers(t *testing.T) {
	t.Parallel() // it waits out retries or a large page: run beside the others
	for _, c := range []struct {
		name string
		opts emulator.Options
	}{
		{"hang", emulator.Options{Hang: true}},
		{"drip", emulator.Options{Drip: 20 * time.Millisecond}},
	} {
		t.Run(c.name, func(t *testing.T) {
			emu, _ := startEmulator(t, c.opts)
			cl := exporttest.ApigeeClient(t, emu, apigee.WithTimeout(300*time.Millisecond), apigee.WithRetryBudget(time.Second),
				apigee.WithRetry(0, 10*time.Millisecond, 50*time.Millisecond))
			_, took, err := firstPage(t, cl, apigee.APIProducts)
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("got %v, want DEADLINE_EXCEEDED", err)
			}
			if took < time.Second {
				t.Errorf("gave up after %v, before the 1s budget", took)
			}
			if !strings.Contains(err.Error(), "did not answer within 300ms") {
				t.Errorf("error %q does not name the deadline", err)
			}
		})
	}
}
