package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/sink"
	"pubexport/formats"
)

// exportJob is one in-process export as the harness runs it: through the
// real Apigee client and export.Runner, to a folder (file://) or any sink.
type exportJob struct {
	apigeeURL string
	resource  apigee.Resource
	format    formats.Format
	dest      string // file:///DIR or gs://BUCKET/PREFIX
	// httpClient, when set, carries the Apigee requests (the pipeline
	// section records the pages it was served).
	httpClient *http.Client
	sinkOpts   []sink.Option
	// maxParallel is the export's --max-parallel-requests (the default
	// when zero).
	maxParallel int
}

// exportResult is what the harness keeps of an export.
type exportResult struct {
	Records int64         `json:"records"`
	Pages   int64         `json:"pages"`
	Bytes   int64         `json:"bytes"`
	Wall    time.Duration `json:"wall"`
	// CPU and EmulatorCPU are the user + system time of the exporter and
	// of the emulator during the export, where the harness measures them.
	CPU         time.Duration `json:"cpu,omitempty"`
	EmulatorCPU time.Duration `json:"emulatorCPU,omitempty"`
}

// runExport runs one export and times it from before the organization check
// to the published manifest: what a user waits for.
func runExport(ctx context.Context, j exportJob) (exportResult, error) {
	opts := []apigee.Option{
		apigee.WithBaseURL(j.apigeeURL),
		apigee.WithoutAuthentication(),
		// The harness measures the exporter, not the quota: the client's
		// own rate limit (Apigee's 6000 calls a minute) is lifted.
		apigee.WithRateLimit(0),
	}
	if j.httpClient != nil {
		opts = append(opts, apigee.WithHTTPClient(j.httpClient))
	}
	client, err := apigee.NewClient(ctx, opts...)
	if err != nil {
		return exportResult{}, fmt.Errorf("creating the Apigee client: %w", err)
	}
	bucket, err := sink.Open(ctx, j.dest, j.sinkOpts...)
	if err != nil {
		return exportResult{}, fmt.Errorf("opening %s: %w", j.dest, err)
	}
	defer bucket.Close()
	r := &export.Runner{Source: export.FromClient(client), Bucket: bucket, MaxParallelRequests: j.maxParallel}
	spec := export.Spec{
		Org:         benchOrg,
		Resource:    j.resource,
		Format:      j.format,
		Destination: j.dest,
		ApigeeURL:   j.apigeeURL,
	}
	t0 := time.Now()
	res, err := r.Run(ctx, spec)
	wall := time.Since(t0)
	if err != nil {
		return exportResult{}, err
	}
	out := exportResult{Records: res.Records, Pages: res.Pages, Wall: wall}
	for _, o := range res.Objects {
		out.Bytes += o.Size
	}
	return out, nil
}
