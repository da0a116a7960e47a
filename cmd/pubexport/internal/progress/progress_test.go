package progress

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when told, so throttling is tested without sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLines(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	var buf bytes.Buffer
	d := New(&buf, Options{Interval: time.Second, Now: clock.Now})
	devs := d.Add("developers")
	apps := d.Add("apps")

	devs.Update(Snapshot{Total: -1}) // not started: no line
	clock.Advance(time.Second)
	devs.Update(Snapshot{Records: 100, Pages: 1, Bytes: 2048, Total: -1})
	devs.Update(Snapshot{Records: 200, Pages: 2, Bytes: 4096, Total: -1}) // throttled
	clock.Advance(time.Second)
	devs.Update(Snapshot{Records: 300, Pages: 3, Bytes: 3 << 20, Total: -1})
	devs.Update(Snapshot{Records: 300, Pages: 3, Bytes: 3 << 20, Total: -1}) // unchanged
	apps.Update(Snapshot{Records: 50, Pages: 1, Bytes: 100, Total: 200})
	devs.Finish(Snapshot{Records: 300, Pages: 3, Bytes: 3 << 20, Objects: 1, Total: -1}, nil)
	apps.Finish(Snapshot{Records: 60, Pages: 2, Bytes: 120, Total: 200}, errors.New("PERMISSION_DENIED: no access"))
	apps.Update(Snapshot{Records: 70}) // after Finish: ignored
	d.Wait()

	want := []string{
		"developers: 100 records, 1 page, 2.0 kB, 100 records/s",
		"developers: 300 records, 3 pages, 3.1 MB, 150 records/s",
		"apps: 50 records, 1 page, 100 B, 25 records/s, 25% of 200",
		"developers: done, 300 records, 3 pages, 3.1 MB, 1 object, 150 records/s",
		"apps: failed: PERMISSION_DENIED: no access, 60 records, 2 pages, 120 B, 30 records/s, 30% of 200",
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBars(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, Options{Terminal: true, Width: 100})
	devs := d.Add("developers")
	apps := d.Add("apps")
	devs.Update(Snapshot{Records: 10, Pages: 1, Bytes: 1500, Total: -1})
	apps.Update(Snapshot{Records: 25, Pages: 1, Bytes: 999, Total: 50})
	devs.Finish(Snapshot{Records: 12, Pages: 2, Bytes: 1800, Objects: 1, Total: -1}, nil)
	apps.Finish(Snapshot{Records: 50, Pages: 2, Bytes: 2000, Objects: 1, Total: 50}, nil)
	d.Wait()

	out := buf.String()
	for _, want := range []string{"developers", "12 records", "2 pages", "apps", "50 records", "100% of 50", "done", "["} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
	// The developers bar never knew a total: no percentage on its line.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "developers") && strings.Contains(line, "%") {
			t.Errorf("developers line shows a percentage without a total: %q", line)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500: "1.5 kB", 64 << 20: "67.1 MB", 6_100_000: "6.1 MB", 999_960: "1.0 MB", 3e9: "3.0 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestWaitingOnApigee: a snapshot waiting on Apigee says so, even before
// the first page.
func TestWaitingOnApigee(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1700000000, 0)}
	var buf bytes.Buffer
	d := New(&buf, Options{Interval: time.Second, Now: clock.Now})
	devs := d.Add("developers")
	devs.Update(Snapshot{Total: -1, Waiting: 35 * time.Second})
	if !strings.Contains(buf.String(), "developers: 0 records") || !strings.Contains(buf.String(), "waiting on Apigee for 35s") {
		t.Fatalf("line %q does not say it waits on Apigee", buf.String())
	}
}
