package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The bare-fetch floor: the least time a client that reads the same pages
// one after another, and does nothing with them, takes against the same
// emulator in the same run. Unlike pages x latency it includes what the
// machine, the loopback and the emulator itself cost per page, so
// wall / floor is the exporter's own overhead.

// urlRecorder is an http.RoundTripper that keeps the URLs of the list
// requests it carries, in order.
type urlRecorder struct {
	mu     sync.Mutex
	suffix string // path suffix of the list calls to keep, e.g. "/apps"
	urls   []string
}

func (rec *urlRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK && strings.HasSuffix(req.URL.Path, rec.suffix) {
		rec.mu.Lock()
		rec.urls = append(rec.urls, req.URL.String())
		rec.mu.Unlock()
	}
	return resp, err
}

// bareFetch GETs urls one after another with a plain client and reads each
// body to the end, the floor one listing can reach.
func bareFetch(ctx context.Context, c *http.Client, urls []string) error {
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("bare fetch of %s: %s", u, resp.Status)
		}
	}
	return nil
}

// floor times bareFetch of each list of URLs, all lists at once (one
// sequential fetcher each), the best of repeat runs.
func floor(ctx context.Context, repeat int, lists ...[]string) (time.Duration, error) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(lists)}}
	defer c.CloseIdleConnections()
	var best time.Duration
	for i := range max(repeat, 1) {
		t0 := time.Now()
		errs := make([]error, len(lists))
		var wg sync.WaitGroup
		for j, urls := range lists {
			wg.Go(func() { errs[j] = bareFetch(ctx, c, urls) })
		}
		wg.Wait()
		took := time.Since(t0)
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		if i == 0 || took < best {
			best = took
		}
	}
	return best, nil
}
