//go:build unix

package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
)

// BenchmarkGetConcurrent measures GetOperation of a finished operation the
// backend shares between calls (as *operations.Manager does for an
// unchanged record) with 32 callers at once, as the bench's polling
// section drives it, beside a trivial net/http handler answering the same
// bytes. Besides ns/op it reports the process's CPU time a request
// (client and server: cpu-µs/op), which another process's load on the
// cores skews far less than wall time.
func BenchmarkGetConcurrent(b *testing.B) {
	h := start(b, tokenAuth(b))
	h.ops.share()
	name := h.ops.add("acme", "developers")
	h.ops.finish(name, 1000)
	ctx := context.Background()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32, MaxConnsPerHost: 32}}
	b.Cleanup(httpc.CloseIdleConnections)
	get := func(b *testing.B, url string) []byte {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		resp, err := httpc.Do(req)
		if err != nil {
			b.Error(err)
			return nil
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			b.Error(resp.Status, err)
		}
		return body
	}
	body := get(b, h.url+"/v1/"+name)
	anchor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	}))
	b.Cleanup(anchor.Close)

	grpcc := h.grpcClient(b, acmeToken)
	for _, c := range []struct {
		name string
		get  func(b *testing.B)
	}{
		{"anchor", func(b *testing.B) { get(b, anchor.URL+"/v1/"+name) }},
		{"grpc", func(b *testing.B) {
			if _, err := grpcc.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); err != nil {
				b.Error(err)
			}
		}},
		{"rest", func(b *testing.B) { get(b, h.url+"/v1/"+name) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.get(b)                                           // connections dialled outside the figures
			b.SetParallelism(max(32/runtime.GOMAXPROCS(0), 1)) // 32 callers (more past 32 cores)
			b.ReportAllocs()
			cpu0 := selfCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.get(b)
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((selfCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// selfCPU is this process's user + system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
