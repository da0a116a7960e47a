package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export/apigee"
	"pubexport/export/sink"
	"pubexport/formats"
)

const gcsBucket = "pubexport-bench"

// benchGCS runs a small export to fake-gcs-server (in this process, over
// loopback HTTP, with the real storage client) against the same export to
// file://. The emulator re-hashes an object on every chunk and keeps it in
// memory, so this shows the Cloud Storage code path works at speed; it is
// not a forecast of real Cloud Storage throughput.
func benchGCS(ctx context.Context, h *harness) error {
	n := h.cfg.gcsApps
	emu, err := h.startEmulator(ctx, max(n/10, 1), n, 1, 0)
	if err != nil {
		return err
	}
	defer emu.Close()
	if _, err := listAll(ctx, emu.URL, apigee.Apps, nil); err != nil {
		return fmt.Errorf("warm-up listing of apps: %w", err)
	}

	client, stop, err := startFakeGCS(ctx)
	if err != nil {
		return err
	}
	defer stop()

	name := fmt.Sprintf("apps %s, json -> fake-gcs-server", count(n))
	h.logf("gcs: apps %s, json -> file://", count(n))
	local, err := h.exportToDir(ctx, emu.URL, apigee.Apps, formats.JSON)
	if err != nil {
		h.rep.Skip("gcs", name, "the file:// reference run failed: "+skipReason(ctx, err))
		return nil
	}
	h.logf("gcs: %s", name)
	res, err := runExport(ctx, exportJob{
		apigeeURL: emu.URL,
		resource:  apigee.Apps,
		format:    formats.JSON,
		dest:      "gs://" + gcsBucket + "/bench",
		sinkOpts:  []sink.Option{sink.WithClient(client)},
	})
	if err != nil {
		h.rep.Skip("gcs", name, skipReason(ctx, err))
		return nil
	}
	h.rep.Add(report.Row{
		Section: "gcs", Case: name,
		Value: res.Wall.Seconds(), Unit: report.Second,
		Reference: local.Wall.Seconds(), ReferenceName: "file://",
		Note: fmt.Sprintf("%s records, %.1f MB, %s rec/s; fake-gcs-server in process",
			report.Count.Format(float64(res.Records)), float64(res.Bytes)/1e6, report.Count.Format(float64(res.Records)/res.Wall.Seconds())),
	})
	return nil
}

// startFakeGCS serves fake-gcs-server on a loopback port and returns a real
// storage client for it. It listens first because the emulator must know
// its public host:port to serve downloads.
func startFakeGCS(ctx context.Context) (*storage.Client, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listening for fake-gcs-server: %w", err)
	}
	host := l.Addr().String()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		PublicHost: host,
		NoListener: true,
		Writer:     io.Discard,
	})
	if err != nil {
		l.Close()
		return nil, nil, fmt.Errorf("starting fake-gcs-server: %w", err)
	}
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: gcsBucket})
	hs := &http.Server{Handler: fake.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l)
	client, err := storage.NewClient(ctx, option.WithEndpoint("http://"+host+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		hs.Close()
		fake.Stop()
		return nil, nil, fmt.Errorf("creating a storage client for fake-gcs-server: %w", err)
	}
	stop := func() {
		client.Close()
		hs.Close()
		fake.Stop()
	}
	return client, stop, nil
}
