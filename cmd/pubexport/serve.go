package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"pubexport/cmd/pubexport/internal/cloudrun"
	"pubexport/cmd/pubexport/internal/cmdlog"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/queue"
	"pubexport/operations/server"
	"pubexport/operations/store"
)

type serveFlags struct {
	addr, store, auth, tokenFile, audience string
	dispatch, job, cloudRunEndpoint        string
	logLevel, notify                       string
	allowApigeeURLs, allowDestinations     []string
	console                                consoleFlags
	allowHosts                             []string
	maxConnections                         int
	bodyTimeout                            time.Duration
	maxExports, maxExportsPerOrg           int
}

func newServeCmd(a *app) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the export API: trigger exports and poll their operations",
		Long: `Serve runs the export API on one port, for gRPC and REST/JSON clients alike:

  POST   /v1/organizations/{org}/{developers|apps|apiproducts}:export   body: ExportRequest
  GET    /v1/organizations/{org}/operations[?filter=&pageSize=&pageToken=]
  GET    /v1/organizations/{org}/operations/{id}
  POST   /v1/organizations/{org}/operations/{id}:cancel
  POST   /v1/organizations/{org}/operations/{id}:wait
  DELETE /v1/organizations/{org}/operations/{id}
  gRPC:  google.longrunning.Operations and pubexport.v1.ExportService/Export

Operations are kept in --store, shared with every other process that uses it
(a Cloud Run job, another replica, 'pubexport operations --store'). At start
and then about every 30 seconds (one lease duration), serve resumes exports
whose runner died (Manager.Recover); an operation it cannot read is logged and
skipped. On SIGTERM it stops accepting requests and, at the same time,
suspends the exports it runs at their last checkpoint (so that another
process resumes them) while running requests finish.

With --dispatch cloudrun a triggered export is recorded here and run by an
execution of the Cloud Run job --job, which gets PUBEXPORT_OPERATION and
PUBEXPORT_STORE as environment overrides.

Authentication (--auth):
  none     anyone may call (default on loopback addresses only)
  tokens   "Authorization: Bearer TOKEN" with a token from --token-file
  idtoken  a Google ID token for --audience whose email is a principal in
           --token-file (for Cloud Run services and service accounts)
The token file grants organizations:
  {"tokens": [{"token": "a-long-random-secret", "organizations": ["acme"]}],
   "principals": [{"email": "ci@proj.iam.gserviceaccount.com", "organizations": ["*"]}]}

Browsers: REST bodies must be Content-Type: application/json, and requests a
page of another origin sends (a foreign Origin, Sec-Fetch-Site: cross-site) are
refused. With --auth none on loopback, the Host header must name the listening
address or localhost with its port (--allow-host adds names), which defeats DNS
rebinding. Pages of the server's own origin pass.

With --console it also serves the export console, a web page at / on the
same port and behind the same authentication: Export buttons, a notification
bell with progress and Download links, and the operations list. --sample adds
the bundled sample organization from a built-in Apigee emulator (offline).

With --notify pubsub://projects/P/topics/T (or PUBEXPORT_NOTIFY), every export
that ends - done, failed or cancelled - is published to the topic: the
operation as JSON in the data, attributes organization, resource, state
(SUCCEEDED, FAILED, CANCELLED) and operation. A message that cannot be
published is a warning on the operation, never a failed export.

Logs are JSON lines on stdout in Cloud Logging's format; every ended export
is logged with its operation name, at ERROR when it failed.`,
		Example: `  # The export console on the bundled sample organization, offline
  pubexport serve --console --sample --allow-destination ./exports --store ./exports/.pubexport/operations

  # Locally, operations in a folder, no authentication (loopback only)
  pubexport serve --addr 127.0.0.1:8080 --store file:///tmp/pubexport-ops

  # On Cloud Run (PORT is set there), operations in Cloud Storage, ID tokens
  pubexport serve --store gs://acme-exports/pubexport-ops --auth idtoken \
      --audience https://pubexport-abc123-ew.a.run.app --token-file /secrets/grants.json

  # Hand exports to a Cloud Run job instead of running them in the server
  pubexport serve --store gs://acme-exports/pubexport-ops --auth tokens --token-file grants.json \
      --dispatch cloudrun --job projects/acme-prod/locations/europe-west1/jobs/pubexport`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), a, f, cmd.Flags().Changed("addr"), cmd.Flags().Changed("auth"))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen `HOST:PORT`; :$PORT instead when PORT is set and --addr is not (Cloud Run)")
	fl.StringVar(&f.store, "store", "", "operation store `URI`: gs://BUCKET/PREFIX or file:///DIR (default a folder in the user cache directory)")
	fl.StringVar(&f.auth, "auth", "none", "authentication: none, tokens or idtoken (required off loopback)")
	fl.StringVar(&f.tokenFile, "token-file", "", "JSON `FILE` granting organizations to tokens and principals")
	fl.StringVar(&f.audience, "audience", "", "expected ID token audience `URL` (--auth idtoken), usually the service URL")
	fl.StringVar(&f.dispatch, "dispatch", "inprocess", "where triggered exports run: inprocess or cloudrun")
	fl.StringVar(&f.job, "job", "", "Cloud Run job for --dispatch cloudrun: projects/PROJECT/locations/REGION/jobs/JOB")
	fl.StringVar(&f.cloudRunEndpoint, "cloudrun-endpoint", "", "plaintext HOST:PORT of a Cloud Run Admin API stand-in (tests)")
	fl.MarkHidden("cloudrun-endpoint")
	fl.StringVar(&f.logLevel, "log-level", "info", cmdlog.LevelNames())
	fl.StringVar(&f.notify, "notify", "", "publish a message per ended export to `TOPIC`, pubsub://projects/P/topics/T (default $PUBEXPORT_NOTIFY; with --dispatch cloudrun the job gets it too)")
	fl.StringArrayVar(&f.allowApigeeURLs, "allow-apigee-url", nil, "an Apigee base `URL` that triggers may name besides "+apigee.DefaultBaseURL+" (repeatable; e.g. an emulator)")
	fl.StringArrayVar(&f.allowHosts, "allow-host", nil, "a `HOST:PORT` that requests may name in their Host header besides the listening address and localhost (repeatable; --auth none on loopback only, e.g. behind a local proxy)")
	fl.IntVar(&f.maxConnections, "max-connections", server.DefaultMaxConnections, "most client connections open at once; more wait until one closes")
	fl.DurationVar(&f.bodyTimeout, "body-timeout", server.DefaultBodyTimeout, "how long a REST request body may take to arrive before the request is cut off with 408")
	fl.IntVar(&f.maxExports, "max-exports", defaultMaxExports(), "most exports run at once in this server (default: its memory limit / 256 MiB); more wait NOT_STARTED, in line")
	fl.IntVar(&f.maxExportsPerOrg, "max-exports-per-org", 0, "most exports of one organization running or waiting here at once; more are refused with RESOURCE_EXHAUSTED (0: no limit)")
	fl.StringArrayVar(&f.allowDestinations, "allow-destination", []string{"gs://"}, "a destination `PREFIX` triggers may write under (repeatable): gs:// for any bucket, gs://BUCKET/PREFIX, file:///DIR")
	addConsoleFlags(fl, &f.console)
	return cmd
}

// serve is `pubexport serve`. Every flag is checked before anything is
// opened, so a bad one exits 2 and leaves nothing behind; then the API is
// put together from the manager outwards (queue or Cloud Run dispatch,
// trigger policy, console) and served until ctx ends or a signal comes.
func serve(ctx context.Context, a *app, f *serveFlags, addrSet, authSet bool) error {
	c, err := checkServe(a, f, addrSet, authSet)
	if err != nil {
		return err
	}
	sig, stopSignals := a.signals()
	defer stopSignals()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	r, err := startRunner(ctx, a, f, c)
	if err != nil {
		return err
	}
	defer r.close()
	go r.stopOnSignal(ctx, sig, cancel)
	waitRecover := r.recoverInBackground(ctx)
	defer func() { cancel(); waitRecover() }()

	ops, closeOps, err := r.operations(ctx, f, c.storeURI)
	if err != nil {
		return err
	}
	defer closeOps()
	ops, opts, stopSample, err := c.front(f, ops, r.be.st)
	if err != nil {
		return err
	}
	defer stopSample()

	l, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.addr, err)
	}
	c.log.Info("pubexport serve listening", "url", "http://"+l.Addr().String(), "store", c.storeURI, "auth", f.auth, "dispatch", f.dispatch, "console", f.console.on)
	srv := server.New(ops, opts)
	return srv.Serve(ctx, l)
}

// serveConfig is what serve's flags resolve to once checked.
type serveConfig struct {
	log      *slog.Logger
	addr     string // --addr, or :$PORT on Cloud Run
	auth     *server.Auth
	cc       consoleConfig
	storeURI string // --store, or a folder in the user cache directory
}

// checkServe checks every flag, in the order of the help, and resolves
// the ones with defaults that depend on the environment.
func checkServe(a *app, f *serveFlags, addrSet, authSet bool) (*serveConfig, error) {
	level, err := cmdlog.ParseLevel(f.logLevel)
	if err != nil {
		return nil, usagef("--log-level: %v", err)
	}
	c := &serveConfig{log: slog.New(cmdlog.New(a.stdout, cmdlog.Options{Level: level}))}
	if c.addr, err = serveAddr(a, f, addrSet, authSet); err != nil {
		return nil, err
	}
	if c.auth, err = serveAuth(f); err != nil {
		return nil, err
	}
	if c.cc, err = checkConsole(f.console, triggerPolicy{destinations: f.allowDestinations}); err != nil {
		return nil, err
	}
	c.cc.sinkOptions = sinkOptions(a)
	if err := checkConnections(f); err != nil {
		return nil, err
	}
	if err := checkNotify("--notify", f.notify); err != nil {
		return nil, err
	}
	a.notify = f.notify
	if err := checkDispatch(f); err != nil {
		return nil, err
	}
	c.storeURI = f.store
	if c.storeURI == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, usagef("--store is required: no user cache directory (%v)", err)
		}
		c.storeURI = filepath.Join(dir, "pubexport", "operations")
	}
	return c, nil
}

// serveAddr is the address to listen on: --addr, or :$PORT where Cloud Run
// sets PORT. Off loopback it insists on an explicit --auth, so that an
// unauthenticated API is never exposed by default.
func serveAddr(a *app, f *serveFlags, addrSet, authSet bool) (string, error) {
	addr := f.addr
	if port := a.getenv("PORT"); port != "" && !addrSet {
		addr = ":" + port
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usagef("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080 or :8080", addr)
	}
	if !authSet && !isLoopback(host) {
		return "", usagef("--auth is required when listening on %s (not loopback): choose tokens or idtoken, or none if something in front (Cloud Run IAM, a proxy) authenticates", addr)
	}
	return addr, nil
}

// checkConnections checks the flags that bound what clients may hold open.
func checkConnections(f *serveFlags) error {
	if f.maxConnections < 1 {
		return usagef("--max-connections %d: want at least 1", f.maxConnections)
	}
	if f.bodyTimeout <= 0 {
		return usagef("--body-timeout %v: want a positive duration, e.g. 30s", f.bodyTimeout)
	}
	return nil
}

// checkDispatch checks the flags that say where triggered exports run and
// how many at once.
func checkDispatch(f *serveFlags) error {
	if f.maxExports < 1 {
		return usagef("--max-exports %d: want at least 1", f.maxExports)
	}
	if f.maxExportsPerOrg < 0 {
		return usagef("--max-exports-per-org %d: want 0 (no limit) or more", f.maxExportsPerOrg)
	}
	if f.dispatch != "inprocess" && f.dispatch != "cloudrun" {
		return usagef("--dispatch %q: want inprocess or cloudrun", f.dispatch)
	}
	if f.dispatch == "cloudrun" {
		if err := cloudrun.CheckJob(f.job); err != nil {
			return usageError{err}
		}
	} else if f.job != "" {
		return usagef("--job applies only to --dispatch cloudrun")
	}
	return nil
}

// front puts the trigger policy in front of ops and mounts the console on
// the server's options, starting the built-in sample emulator first when
// --sample asks for it (its URL joins the allowed Apigee URLs).
func (c *serveConfig) front(f *serveFlags, ops server.Operations, st store.Store) (server.Operations, server.Options, func(), error) {
	policy := triggerPolicy{apigeeURLs: f.allowApigeeURLs, destinations: f.allowDestinations}
	sampleURL, stopSample, err := startSample(c.cc)
	if err != nil {
		return nil, server.Options{}, nil, err
	}
	if sampleURL != "" {
		policy.apigeeURLs = append(policy.apigeeURLs, sampleURL)
	}
	ops = guarded{Operations: ops, policy: policy}
	opts := server.Options{Auth: c.auth, Logger: c.log, AllowedHosts: f.allowHosts, MaxConnections: f.maxConnections, BodyTimeout: f.bodyTimeout}
	if err := mountConsole(&opts, c.cc, ops, st, policy, sampleURL); err != nil {
		stopSample()
		return nil, server.Options{}, nil, err
	}
	return ops, opts, stopSample, nil
}

// serveRunner runs the server's exports: the manager on --store and, with
// --dispatch inprocess, the queue that bounds how many run at once.
type serveRunner struct {
	be          *local
	q           *queue.Queue // nil with --dispatch cloudrun
	log         *slog.Logger
	suspendOnce sync.Once
}

func startRunner(ctx context.Context, a *app, f *serveFlags, c *serveConfig) (*serveRunner, error) {
	be, err := newLocal(ctx, a, "--store", c.storeURI, c.log)
	if err != nil {
		return nil, err
	}
	r := &serveRunner{be: be, log: c.log}
	if f.dispatch == "inprocess" {
		r.q = queue.New(be.m, queue.Options{MaxRunning: f.maxExports, MaxPerOrganization: f.maxExportsPerOrg, Logger: c.log})
		a.limitServerMemory(f.maxExports)
	}
	return r, nil
}

// suspend stops the running exports at their last checkpoint (saved,
// leases released) so that another process resumes them. At a signal it
// runs at the same time as the HTTP requests drain, not after: Cloud Run
// kills the instance 10 s after SIGTERM, which is also how long a drain may
// take. Queued exports stay NOT_STARTED; the queue's and the manager's
// running exports are suspended side by side. It runs once; a second
// caller waits for the first.
func (r *serveRunner) suspend() {
	r.suspendOnce.Do(func() {
		var queueClosed sync.WaitGroup
		if r.q != nil {
			queueClosed.Go(r.q.Close)
		}
		if err := r.be.Suspend(); err != nil {
			r.log.Error("suspending exports", "error", err)
		}
		queueClosed.Wait()
	})
}

// close suspends what still runs and releases the store.
func (r *serveRunner) close() {
	r.suspend()
	if err := r.be.Close(); err != nil {
		r.log.Error("closing the operation store", "error", err)
	}
}

// stopOnSignal ends serving (cancel) and suspends the exports at the first
// signal, or returns when ctx ends.
func (r *serveRunner) stopOnSignal(ctx context.Context, sig <-chan os.Signal, cancel func()) {
	select {
	case s := <-sig:
		r.log.Info("shutting down: draining requests and suspending running exports", "signal", s.String())
		cancel()
		r.suspend()
	case <-ctx.Done():
	}
}

// recoverInBackground runs recoverLoop until ctx ends: now and then, not
// only at start, since a runner that dies later (another replica, a job
// task, a killed CLI) leaves its operations IN_PROGRESS until some process
// looks. wait returns once the loop has stopped.
func (r *serveRunner) recoverInBackground(ctx context.Context) (wait func()) {
	recovered := make(chan struct{})
	go func() {
		defer close(recovered)
		// With a queue, recovered exports wait their turn like triggers.
		var rec recoverer = r.be.m
		if r.q != nil {
			rec = r.q
		}
		recoverLoop(ctx, rec, r.be.lease, r.log)
	}()
	return func() { <-recovered }
}

// operations is what the API serves: the queue in front of the manager,
// or, with --dispatch cloudrun, the manager with each new export handed to
// an execution of the Cloud Run job. closeOps releases the dispatcher.
func (r *serveRunner) operations(ctx context.Context, f *serveFlags, storeURI string) (ops server.Operations, closeOps func(), err error) {
	if f.dispatch != "cloudrun" {
		return r.q, func() {}, nil
	}
	d, err := newDispatcher(ctx, f, storeURI)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(storeURI, "/") || strings.HasPrefix(storeURI, "file:") {
		r.log.Warn("--store is a local folder: a Cloud Run job cannot read it; use gs://BUCKET/PREFIX", "store", storeURI)
	}
	return &dispatching{Manager: r.be.m, st: r.be.st, d: d, log: r.log}, func() { d.Close() }, nil
}

// recoverer is what recoverLoop needs of an operations.Manager.
type recoverer interface {
	Recover(ctx context.Context) error
}

// recoverLoop runs Recover at once and then about every lease duration,
// jittered (75% to 125%) so that replicas started together do not all list
// the store at the same moment, until ctx ends. Errors are logged: an
// unreadable record or a store hiccup is no reason to stop serving.
func recoverLoop(ctx context.Context, m recoverer, lease time.Duration, log *slog.Logger) {
	for {
		if err := m.Recover(ctx); err != nil && ctx.Err() == nil {
			log.Error("recovering interrupted exports (will try again)", "error", err)
		}
		next := lease*3/4 + rand.N(lease/2+1)
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func serveAuth(f *serveFlags) (*server.Auth, error) {
	switch f.auth {
	case "none":
		if f.tokenFile != "" || f.audience != "" {
			return nil, usagef("--token-file and --audience need --auth tokens or idtoken")
		}
		return server.NoAuth(), nil
	case "tokens", "idtoken":
		if f.tokenFile == "" {
			return nil, usagef("--auth %s needs --token-file", f.auth)
		}
		tf, err := server.LoadTokenFile(f.tokenFile)
		if err != nil {
			return nil, usagef("--token-file: %s", message(err))
		}
		if f.auth == "tokens" {
			a, err := server.TokenAuth(tf)
			if err != nil {
				return nil, usagef("--token-file: %s", message(err))
			}
			return a, nil
		}
		if f.audience == "" {
			return nil, usagef("--auth idtoken needs --audience (the URL clients mint ID tokens for)")
		}
		a, err := server.IDTokenAuth(tf, f.audience, nil)
		if err != nil {
			return nil, usagef("--token-file: %s", message(err))
		}
		return a, nil
	}
	return nil, usagef("--auth %q: want none, tokens or idtoken", f.auth)
}

func newDispatcher(ctx context.Context, f *serveFlags, storeURI string) (*cloudrun.Dispatcher, error) {
	var opts []option.ClientOption
	if f.cloudRunEndpoint != "" {
		opts = append(opts,
			option.WithEndpoint(f.cloudRunEndpoint),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	env := map[string]string{"PUBEXPORT_STORE": storeURI}
	if f.notify != "" {
		env[notifyVar] = f.notify // the job tells of the exports it ends
	}
	return cloudrun.New(ctx, f.job, env, opts...)
}

// dispatching is the server's view of the manager with --dispatch cloudrun:
// Start records the operation and starts a Cloud Run job execution for it,
// and everything else is the manager's.
type dispatching struct {
	*operations.Manager
	st  store.Store
	d   *cloudrun.Dispatcher
	log *slog.Logger
}

// dispatchKey names, among the store's request claims, the claim of the
// right to dispatch operation name. The NUL keeps it apart from every
// client request_id (those are UUIDs).
func dispatchKey(name string) string { return "dispatch\x00" + name }

func (x *dispatching) Start(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	op, err := x.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	if op.GetDone() || metadataOf(op).GetState() != apigeepb.OperationMetadata_NOT_STARTED {
		return op, nil // run, or being run
	}
	// A retried trigger (same request_id) gets the same NOT_STARTED
	// operation, possibly while the first trigger is still dispatching it
	// (a slow RunJob is what makes clients retry). One execution per
	// operation: the store's create-if-absent decides which caller
	// dispatches, the same way it decides which operation a request_id
	// names. The claim's value is unique to this call.
	parent, _, err := store.SplitName(op.GetName())
	if err != nil {
		return nil, err
	}
	me := op.GetName() + "#" + uuid.NewString()
	owner, err := x.st.ClaimRequest(ctx, parent, dispatchKey(op.GetName()), me)
	if err != nil {
		return nil, fmt.Errorf("recording the dispatch of %s: %w", op.GetName(), err)
	}
	if owner != me {
		x.log.Info("export already dispatched by an earlier trigger", "operation", op.GetName())
		return op, nil
	}
	ex, err := x.d.Dispatch(ctx, op.GetName())
	if err != nil {
		// Nobody will run it: end it now, visibly, instead of leaving a
		// NOT_STARTED operation behind.
		if cerr := x.Cancel(context.WithoutCancel(ctx), op.GetName()); cerr != nil {
			x.log.Error("cancelling an undispatched operation", "operation", op.GetName(), "error", cerr)
		}
		return nil, status.Errorf(codes.Unavailable, "export %s was recorded but could not be handed to Cloud Run: %s; try again", op.GetName(), message(err))
	}
	x.log.Info("export dispatched to Cloud Run", "operation", op.GetName(), "execution", ex.Name, "runOperation", ex.Operation)
	return op, nil
}

// Delete removes the operation and then its dispatch claim.
func (x *dispatching) Delete(ctx context.Context, name string) error {
	if err := x.Manager.Delete(ctx, name); err != nil {
		return err
	}
	parent, _, err := store.SplitName(name)
	if err != nil {
		return nil
	}
	// Claiming returns the current owner (or makes this call the owner),
	// which is what releasing needs.
	key := dispatchKey(name)
	owner, err := x.st.ClaimRequest(ctx, parent, key, name+"#deleted")
	if err == nil {
		err = x.st.ReleaseRequest(ctx, parent, key, owner)
	}
	if err != nil {
		x.log.Warn("could not remove the dispatch record of a deleted operation", "operation", name, "error", err)
	}
	return nil
}
