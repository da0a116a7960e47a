package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
	"pubexport/operations/store"
)

// pollOperations is how many finished operations the polled store holds.
const pollOperations = 4

// pollRounds is how many interleaved rounds each polling figure is the
// median of.
const pollRounds = 5

// benchPolling drives GetOperation on loopback with many concurrent
// callers, through the official longrunning gRPC client and through plain
// HTTP on the REST side, and reports requests a second and latency. The
// server is the real one (operations/server) over a Manager that did not
// run the operations, so every answer comes from the store, as it does for
// a poller that reaches another instance than the one exporting.
func benchPolling(ctx context.Context, h *harness) error {
	names, dir, err := h.finishedOperations(ctx)
	if err != nil {
		return err
	}
	st, err := store.Local(dir)
	if err != nil {
		return fmt.Errorf("opening the operations store: %w", err)
	}
	mgr, err := operations.New(ctx, operations.Config{Store: st})
	if err != nil {
		return fmt.Errorf("starting the operations manager: %w", err)
	}
	defer mgr.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := server.New(mgr, server.Options{Auth: server.NoAuth()})
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, l) }()
	defer func() {
		stop()
		<-served
	}()
	addr := l.Addr().String()

	c := h.cfg.pollConcurrency
	grpcClient, err := lroauto.NewOperationsClient(ctx,
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	if err != nil {
		return fmt.Errorf("creating the longrunning gRPC client: %w", err)
	}
	defer grpcClient.Close()
	grpcGet := func(ctx context.Context, name string) error {
		op, err := grpcClient.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
		if err == nil && !op.GetDone() {
			err = fmt.Errorf("operation %s is not done", name)
		}
		return err
	}

	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
	defer httpClient.CloseIdleConnections()
	restGet := func(ctx context.Context, name string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/"+name, nil)
		if err != nil {
			return err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v1/%s: %s", name, resp.Status)
		}
		return nil
	}

	// The anchor: a trivial net/http handler on the same loopback, driven
	// by the same client, answering every GET with the bytes the REST
	// GetOperation returns. The gap to it is what the server's own work
	// (authentication, reading the operation, encoding it) costs.
	body, err := restBody(ctx, httpClient, "http://"+addr+"/v1/"+names[0])
	if err != nil {
		return err
	}
	anchor, err := serveBytes(ctx, body)
	if err != nil {
		return err
	}
	defer anchor.Close()
	anchorGet := func(ctx context.Context, name string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, anchor.URL+"/v1/"+name, nil)
		if err != nil {
			return err
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}

	// The three are measured in interleaved rounds (anchor, gRPC, REST,
	// anchor, ...) and each reported by its median round: on a shared
	// machine the load moves within seconds, and a ratio of two figures
	// taken at different moments measures the load as much as the server.
	// For the same reason the ratio is the median of the rounds' own
	// ratios (each figure over the anchor's in its round, a second apart),
	// not the ratio of two medians that may come from different rounds.
	kinds := []struct {
		name   string
		get    func(context.Context, string) error
		anchor bool
	}{
		{"trivial net/http handler, same bytes", anchorGet, true},
		{"gRPC, official longrunning client", grpcGet, false},
		{"REST, net/http GET /v1/{name}", restGet, false},
	}
	type result struct {
		rates   []float64
		lats    []time.Duration
		done    int64
		elapsed time.Duration
		cpu     time.Duration
		stopped bool
		failed  error
	}
	results := make([]result, len(kinds))
	perRound := max(h.cfg.pollRequests/pollRounds, 1)
	for round := range pollRounds {
		for i, k := range kinds {
			r := &results[i]
			if r.failed != nil {
				continue
			}
			if round == 0 {
				h.logf("polling: %s", k.name)
			}
			cpu0 := selfCPU()
			load, err := drive(ctx, perRound, c, h.cfg.pollMaxTime/pollRounds, names, k.get)
			if err != nil {
				r.failed = err
				continue
			}
			r.cpu += selfCPU() - cpu0
			r.rates = append(r.rates, float64(load.done)/load.elapsed.Seconds())
			r.lats = append(r.lats, load.latencies...)
			r.done += load.done
			r.elapsed += load.elapsed
			r.stopped = r.stopped || load.done < int64(perRound)
		}
	}
	var anchorRate float64
	var anchorRounds []float64
	for i, k := range kinds {
		r := results[i]
		rounds := slices.Clone(r.rates) // in round order
		name := fmt.Sprintf("GetOperation %s, %d concurrent", k.name, c)
		if k.anchor {
			name = fmt.Sprintf("anchor: %s (%d B), %d concurrent", k.name, len(body), c)
		}
		if r.failed != nil {
			h.rep.Skip("polling", name, skipReason(ctx, r.failed))
			continue
		}
		slices.Sort(r.rates)
		slices.Sort(r.lats)
		all := load{done: r.done, elapsed: r.elapsed, latencies: r.lats}
		rate := r.rates[len(r.rates)/2]
		note := fmt.Sprintf("median of %d interleaved rounds (%s requests in %.2f s); CPU %.0f µs a request, client and server",
			len(r.rates), report.Count.Format(float64(r.done)), r.elapsed.Seconds(), float64(r.cpu.Microseconds())/float64(r.done))
		if r.stopped {
			note += fmt.Sprintf(" (rounds stopped at the %s bound)", h.cfg.pollMaxTime/pollRounds)
		}
		row := report.Row{
			Section: "polling", Case: name + ": throughput",
			Value: rate, Unit: report.RequestsPerS,
			Note: note,
		}
		if k.anchor {
			anchorRate, anchorRounds = rate, rounds
		} else if anchorRate > 0 {
			row.Reference, row.ReferenceName = anchorRate, "trivial handler"
			if ratio, ok := pairedRatio(rounds, anchorRounds); ok {
				row.Ratio = ratio
				row.Note += fmt.Sprintf("; ratio: median of the rounds' ratios to the anchor (of the medians: %.2fx)", rate/anchorRate)
			}
		}
		h.rep.Add(row)
		h.rep.Add(report.Row{
			Section: "polling", Case: name + ": p99 latency",
			Value: ms(all.quantile(0.99)), Unit: report.Millisecond,
			Note:  fmt.Sprintf("p50 %.2f ms, max %.2f ms", ms(all.quantile(0.5)), ms(all.quantile(1))),
			Extra: map[string]float64{"p50ms": ms(all.quantile(0.5)), "maxms": ms(all.quantile(1))},
		})
	}
	return nil
}

// pairedRatio is the median of rates[i] / anchor[i] over the rounds both
// completed; ok is false when they did not complete the same rounds.
func pairedRatio(rates, anchor []float64) (float64, bool) {
	if len(rates) != len(anchor) || len(rates) == 0 {
		return 0, false
	}
	ratios := make([]float64, len(rates))
	for i := range rates {
		if anchor[i] <= 0 {
			return 0, false
		}
		ratios[i] = rates[i] / anchor[i]
	}
	slices.Sort(ratios)
	return ratios[len(ratios)/2], true
}

// restBody is the body of a successful GET of u.
func restBody(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, nil
}

// bytesServer is a loopback HTTP server answering every request with the
// same bytes.
type bytesServer struct {
	URL string
	srv *http.Server
}

func serveBytes(ctx context.Context, body []byte) (*bytesServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})}
	go srv.Serve(l)
	return &bytesServer{URL: "http://" + l.Addr().String(), srv: srv}, nil
}

func (s *bytesServer) Close() { s.srv.Close() }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// finishedOperations runs a few small exports through a Manager into a
// local store and returns their names and the store's folder, once they are
// all done. The Manager is closed, so only the store knows them.
func (h *harness) finishedOperations(ctx context.Context) ([]string, string, error) {
	emu, err := emulator.Start(emulator.Generate(emulator.GenerateSpec{Org: benchOrg, Developers: 50, Apps: 50, APIProducts: 5, Seed: 1}), emulator.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("starting an in-process emulator: %w", err)
	}
	defer emu.Close()
	dir, err := h.dir("operations-")
	if err != nil {
		return nil, "", err
	}
	out, err := h.dir("operations-out-")
	if err != nil {
		return nil, "", err
	}
	st, err := store.Local(dir)
	if err != nil {
		return nil, "", fmt.Errorf("opening the operations store: %w", err)
	}
	mgr, err := operations.New(ctx, operations.Config{
		Store: st,
		Open: func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
			c, err := apigee.NewClient(ctx, apigee.WithBaseURL(emu.URL), apigee.WithoutAuthentication())
			if err != nil {
				return nil, nil, err
			}
			b, err := sink.Open(ctx, req.GetDestination())
			if err != nil {
				return nil, nil, err
			}
			return export.FromClient(c), b, nil
		},
	})
	if err != nil {
		return nil, "", fmt.Errorf("starting the operations manager: %w", err)
	}
	defer mgr.Close()
	var names []string
	for i := range pollOperations {
		r := apigee.Resources()[i%len(apigee.Resources())]
		op, err := mgr.Start(ctx, &operationspb.ExportRequest{
			Parent:      "organizations/" + benchOrg,
			Resource:    string(r),
			Format:      "json",
			Destination: "file://" + out,
			ApigeeUrl:   emu.URL,
		})
		if err != nil {
			return nil, "", fmt.Errorf("starting an export operation: %w", err)
		}
		names = append(names, op.GetName())
	}
	for _, name := range names {
		op, err := mgr.Wait(ctx, name, time.Minute)
		if err != nil {
			return nil, "", fmt.Errorf("waiting for %s: %w", name, err)
		}
		if !op.GetDone() || op.GetError() != nil {
			return nil, "", fmt.Errorf("operation %s did not finish cleanly: done=%v error=%v", name, op.GetDone(), op.GetError())
		}
	}
	return names, dir, nil
}

// load is the outcome of a fixed-count load test.
type load struct {
	done      int64
	elapsed   time.Duration
	latencies []time.Duration // sorted
}

func (l load) quantile(q float64) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(l.latencies))+0.5) - 1
	return l.latencies[min(max(i, 0), len(l.latencies)-1)]
}

// drive makes total calls of get from c goroutines, cycling through names,
// and stops early at maxTime. Any failed call fails the measurement: a rate
// of errors is not a rate of answers.
func drive(ctx context.Context, total, c int, maxTime time.Duration, names []string, get func(context.Context, string) error) (load, error) {
	ctx, cancel := context.WithTimeout(ctx, maxTime)
	defer cancel()
	// Warm the connections up so that dialling is not in the figures.
	for _, n := range names {
		if err := get(ctx, n); err != nil {
			return load{}, err
		}
	}
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	lats := make([][]time.Duration, c)
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := range c {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(total) || ctx.Err() != nil {
					return
				}
				s := time.Now()
				if err := get(ctx, names[i%int64(len(names))]); err != nil {
					if ctx.Err() != nil {
						return // the time bound, not a failure
					}
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				lats[g] = append(lats[g], time.Since(s))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		return load{}, firstErr
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return load{}, fmt.Errorf("no request completed within %s", maxTime)
	}
	return load{done: int64(len(all)), elapsed: elapsed, latencies: all}, nil
}
