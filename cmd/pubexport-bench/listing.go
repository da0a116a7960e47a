package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"pubexport/export/apigee"
)

// listAll pages through a resource with the real client and counts the
// records, encoding nothing. With rt, the requests go through it (a
// recorder of page bodies or URLs).
func listAll(ctx context.Context, url string, r apigee.Resource, rt http.RoundTripper) (int, error) {
	opts := []apigee.Option{apigee.WithBaseURL(url), apigee.WithoutAuthentication(), apigee.WithRateLimit(0)}
	if rt != nil {
		opts = append(opts, apigee.WithHTTPClient(&http.Client{Transport: rt}))
	}
	c, err := apigee.NewClient(ctx, opts...)
	if err != nil {
		return 0, fmt.Errorf("creating the Apigee client: %w", err)
	}
	l := c.List(benchOrg, r, apigee.Cursor{})
	n := 0
	for {
		p, err := l.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(p.Records)
	}
}

// recorder is an http.RoundTripper that keeps the bodies of successful list
// responses, so that a baseline can decode exactly the pages the exporter
// was served.
type recorder struct {
	mu     sync.Mutex
	suffix string // path suffix of the list calls to keep, e.g. "/apps"
	pages  [][]byte
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasSuffix(req.URL.Path, rec.suffix) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	rec.mu.Lock()
	rec.pages = append(rec.pages, body)
	rec.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
