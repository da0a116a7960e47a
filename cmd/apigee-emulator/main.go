// Command apigee-emulator serves an in-memory Apigee management API on a
// local port: the bundled sample organization, a seed file, or a generated
// organization of any size. pubexport is pointed at it with --apigee-url for
// offline demos, tests and benchmarks.
//
//	apigee-emulator                                 # the sample org "acme" on 127.0.0.1:8080
//	apigee-emulator --data seed.json --addr :9000
//	apigee-emulator --generate developers=2501,apps=3001,apiproducts=1201 --seed 7
//	apigee-emulator --latency 20ms --fault-rate 0.1 --rate-limit 6000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// config is what the flags ask for.
type config struct {
	addr     string
	dataFile string
	generate *emulator.GenerateSpec
	opts     emulator.Options
	verbose  bool
}

// run parses args, loads the data and serves until SIGINT or SIGTERM. It
// returns the exit code: 2 for bad flags (as the flag package does), 1 when
// loading or serving fails. Signals keep their default effect while a large
// org is generated, so an interrupt stops a long start at once.
func run(args []string, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "apigee-emulator: %v\n", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now()
	d, err := load(cfg)
	if err != nil {
		log.Error("apigee emulator cannot start", "err", err)
		return 1
	}
	h, orgs := handler(cfg, d, log)
	d = nil // only the handler's rendered records stay
	debug.FreeOSMemory()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	log.Info("apigee emulator loaded", "startup", time.Since(start).Round(time.Millisecond), "heap_mib", mem.HeapInuse>>20)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg.addr, h, orgs, log, nil); err != nil {
		log.Error("apigee emulator stopped", "err", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("apigee-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.StringVar(&cfg.dataFile, "data", "", "seed `file` to serve (default: the bundled sample organization \"acme\")")
	var gen, org string
	var seed int64
	fs.StringVar(&gen, "generate", "", "generate an organization instead: `developers=N,apps=M,apiproducts=K`")
	fs.StringVar(&org, "org", "acme", "name of the generated organization (with --generate)")
	fs.Int64Var(&seed, "seed", 1, "seed of the generated organization (with --generate); the same seed gives the same data")
	fs.DurationVar(&cfg.opts.Latency, "latency", 0, "`delay` added to every list page and organization read, e.g. 20ms")
	fs.Float64Var(&cfg.opts.FaultRate, "fault-rate", 0, "share of requests answered 429 or 503, between 0 and 1 (a fixed, evenly spread sequence)")
	fs.IntVar(&cfg.opts.RateLimit, "rate-limit", 0, "requests per minute before answering 429 (0: no limit)")
	fs.DurationVar(&cfg.opts.Throttle, "throttle", 0, "answer every request 429 with Retry-After: 1 for this `long` from the first one, e.g. 1m")
	fs.BoolVar(&cfg.opts.Hang, "hang", false, "accept every request and never answer it")
	fs.BoolVar(&cfg.opts.FutureFields, "future-fields", false, "add to listed records a field and an enum value newer than pubexport's protos")
	fs.DurationVar(&cfg.opts.Drip, "drip", 0, "send every body one byte per `interval`, e.g. 100ms")
	expand := fs.String("developer-expand", "honoured", "what developers.list does with expand=true next to count or startKey: honoured, ignored-with-count, ignored-with-startkey or rejected")
	fs.BoolVar(&cfg.opts.StartKeyNeedsCount, "startkey-needs-count", false, "ignore a developers.list startKey sent without count (the list starts at its beginning)")
	keyless := fs.String("keyless-apps", "approved", "where apps.list shows an app without credentials: approved (under keyStatus=approved), every (under both), revoked or none (under neither)")
	appsPaging := fs.String("apps-paging", "index", "what an apps.list nextPageToken is: index (the plain decimal index into the list as it is now, as documented), encoded-index (that index in an opaque base64 token bound to status and keyStatus), stable (an opaque position deletions do not shift) or pre-1.10 (pageSize and pageToken ignored; rows and startKey only)")
	fs.BoolVar(&cfg.opts.TotalSizeAll, "totalsize-all", false, "make apps.list's totalSize count every app of the organization rather than the apps its status and keyStatus filters list")
	var deny, deniedSpaces string
	var spaces bool
	fs.StringVar(&deny, "deny", "", "comma list of IAM `permissions` the caller lacks, answered 403, e.g. apigee.organizations.get")
	fs.StringVar(&deniedSpaces, "denied-spaces", "", "comma list of Apigee `Spaces` whose API products the caller may not list or get")
	fs.BoolVar(&cfg.opts.SpacesAfterCount, "spaces-after-count", false, "leave the products of --denied-spaces out of a page after cutting count (a short page that is not the last)")
	fs.BoolVar(&spaces, "spaces", false, "with --generate: put about a tenth of the API products into Spaces space-0 to space-4")
	fs.BoolVar(&cfg.verbose, "verbose", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (all settings are flags; see -h)", fs.Arg(0))
	}
	if _, _, err := net.SplitHostPort(cfg.addr); err != nil {
		return nil, fmt.Errorf("--addr %q is not host:port: %v", cfg.addr, err)
	}
	if cfg.opts.Latency < 0 {
		return nil, fmt.Errorf("--latency %v must not be negative", cfg.opts.Latency)
	}
	if !(cfg.opts.FaultRate >= 0 && cfg.opts.FaultRate <= 1) {
		return nil, fmt.Errorf("--fault-rate %v must be between 0 and 1", cfg.opts.FaultRate)
	}
	if cfg.opts.RateLimit < 0 {
		return nil, fmt.Errorf("--rate-limit %d must not be negative", cfg.opts.RateLimit)
	}
	if cfg.opts.Throttle < 0 || cfg.opts.Drip < 0 {
		return nil, errors.New("--throttle and --drip must not be negative")
	}
	mode, err := emulator.ParseExpandMode(*expand)
	if err != nil {
		return nil, fmt.Errorf("--developer-expand: %v", err)
	}
	cfg.opts.DeveloperExpand = mode
	if cfg.opts.KeylessApps, err = emulator.ParseKeylessMode(*keyless); err != nil {
		return nil, fmt.Errorf("--keyless-apps: %v", err)
	}
	if cfg.opts.AppsPaging, err = emulator.ParseAppsPaging(*appsPaging); err != nil {
		return nil, fmt.Errorf("--apps-paging: %v", err)
	}
	if deny != "" {
		cfg.opts.Deny = strings.Split(deny, ",") // checked by emulator.Start
	}
	if deniedSpaces != "" {
		cfg.opts.DeniedSpaces = strings.Split(deniedSpaces, ",")
	}
	if gen != "" {
		if cfg.dataFile != "" {
			return nil, errors.New("--data and --generate exclude each other: serve a file or generate data")
		}
		spec, err := parseGenerate(gen)
		if err != nil {
			return nil, err
		}
		if org == "" || strings.Contains(org, "/") {
			return nil, fmt.Errorf("--org %q must be a non-empty name without '/'", org)
		}
		spec.Org, spec.Seed, spec.Spaces = org, seed, spaces
		cfg.generate = spec
	}
	return cfg, nil
}

// parseGenerate reads developers=N,apps=M,apiproducts=K; missing counts are 0.
func parseGenerate(s string) (*emulator.GenerateSpec, error) {
	spec := &emulator.GenerateSpec{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("--generate %q: %q is not name=count with a count of 0 or more", s, part)
		}
		switch apigee.Resource(k) {
		case apigee.Developers:
			spec.Developers = n
		case apigee.Apps:
			spec.Apps = n
		case apigee.APIProducts:
			spec.APIProducts = n
		default:
			var names []string
			for _, r := range apigee.Resources() {
				names = append(names, string(r))
			}
			return nil, fmt.Errorf("--generate %q: unknown name %q (use %s)", s, k, strings.Join(names, ", "))
		}
	}
	return spec, nil
}

// load returns the data the flags name.
func load(cfg *config) (*emulator.Data, error) {
	switch {
	case cfg.generate != nil:
		return emulator.Generate(*cfg.generate), nil
	case cfg.dataFile != "":
		f, err := os.Open(cfg.dataFile)
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		defer f.Close()
		d, err := emulator.Load(f)
		if err != nil {
			return nil, fmt.Errorf("--data %s: %w", cfg.dataFile, err)
		}
		return d, nil
	}
	return emulator.Sample(), nil
}

// orgSummary is what the startup log says about one organization.
type orgSummary struct {
	name                          string
	developers, apps, apiProducts int
}

// handler builds the emulator with every record rendered up front, so that
// no page pays for rendering during a benchmark.
func handler(cfg *config, d *emulator.Data, log *slog.Logger) (http.Handler, []orgSummary) {
	opts := cfg.opts
	opts.Logger = log
	opts.Prerender = true
	var orgs []orgSummary
	for _, o := range d.Orgs {
		orgs = append(orgs, orgSummary{o.Name, len(o.Developers), len(o.Apps), len(o.APIProducts)})
	}
	return emulator.NewHandler(d, opts), orgs
}

// serve listens on addr and serves h until ctx ends, then shuts down
// gracefully. ready, when set, receives the base URL once the port is open.
func serve(ctx context.Context, addr string, h http.Handler, orgs []orgSummary, log *slog.Logger, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", addr, err)
	}
	url := "http://" + ln.Addr().String()
	for _, o := range orgs {
		log.Info("apigee emulator organization", "org", o.name,
			"developers", o.developers, "apps", o.apps, "apiproducts", o.apiProducts,
			"try", url+"/v1/organizations/"+o.name+"/developers?count=5")
	}
	// The URL line comes last, when the port is open: scripts wait for it.
	log.Info("apigee emulator serving", "url", url)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(url)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving %s: %w", url, err)
	case <-ctx.Done():
	}
	log.Info("apigee emulator shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}
