package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"

	// Linked so that protojson resolves the @type of operation metadata
	// (google.cloud.apigee.v1.OperationMetadata) and response
	// (pubexport.v1.ExportResponse) when writing REST answers.
	_ "pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// Defaults for the zero Options.
const (
	DefaultMaxRequestBytes = 1 << 20
	DefaultMaxWait         = 60 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultBodyTimeout     = 30 * time.Second
	DefaultMaxConnections  = 1000
)

// Options configure a Server.
type Options struct {
	// Auth authenticates every request on both transports. nil refuses every
	// request: use NoAuth() to run without authentication deliberately.
	Auth *Auth
	// Logger receives request logs (debug) and server-side failures (error).
	// nil discards them.
	Logger *slog.Logger
	// MaxRequestBytes bounds a REST body and a gRPC request message
	// (default 1 MiB). Larger REST bodies are answered 413.
	MaxRequestBytes int64
	// MaxWait caps WaitOperation (default 60 s); a wait without a timeout
	// waits this long.
	MaxWait time.Duration
	// ShutdownTimeout bounds the graceful part of Serve's shutdown (default
	// 10 s); connections still busy after it are closed.
	ShutdownTimeout time.Duration
	// BodyTimeout bounds how long a REST request body may take to arrive
	// (default 30 s): a body trickled a byte at a time is cut off with 408
	// instead of holding a connection. The answer then has MaxWait plus
	// BodyTimeout to be written.
	BodyTimeout time.Duration
	// MaxConnections caps the connections Serve keeps open at once (default
	// 1000); further clients wait in the listen queue until one closes.
	// Slow clients cannot hold the slots for long: headers must arrive
	// within 10 s, bodies within BodyTimeout, and failed authentication is
	// answered before the body is read, closing the connection.
	MaxConnections int
	// AllowedHosts are Host header values accepted besides the listening
	// address and loopback names with its port, for requests that arrive
	// on a loopback address while Auth is NoAuth (see checkBrowser).
	AllowedHosts []string
	// GRPCOptions are added to the gRPC server's options. Interceptors
	// added with grpc.ChainUnaryInterceptor / grpc.ChainStreamInterceptor
	// run after authentication (CallerFrom works in them). One set with
	// grpc.UnaryInterceptor / grpc.StreamInterceptor runs BEFORE it: gRPC
	// puts that single interceptor outermost, so it also sees calls that
	// authentication then refuses, without a caller.
	GRPCOptions []grpc.ServerOption
	// Routes are more REST endpoints (ServeMux patterns under /v1/, e.g.
	// "/v1/console/session"), served exactly as the API is: same
	// authentication and request checks, CallerFrom works in them.
	Routes map[string]http.Handler
	// Pages serves the requests whose path is not under /v1/ (a web
	// console's page and static files), without authentication: what they
	// serve must hold no data, which the page fetches from the API. nil
	// answers them NOT_FOUND like any unknown REST path.
	Pages http.Handler
}

// streamWorkers is how many goroutines Serve keeps to run gRPC calls in.
// Without them gRPC starts a goroutine for every call, whose stack then
// grows as the call runs: under polling load that growth and the start
// were about 7% of the process's CPU (runtime.copystack, newproc), the
// workers' stacks have grown once. Calls beyond this many at once get a
// goroutine of their own, as before; idle workers hold their stacks
// (a few KB each).
const streamWorkers = 64

// Server serves operations over gRPC and REST on one port.
type Server struct {
	opts Options
	log  *slog.Logger
	grpc *grpc.Server // Handler's
	// newGRPC makes another gRPC server for the same services, with
	// extra options: Serve's own, with stream workers.
	newGRPC   func(extra ...grpc.ServerOption) *grpc.Server
	rest      http.Handler
	handler   http.Handler
	stopDrain context.CancelFunc
}

// New returns a server for ops. It does not listen; see Serve and Handler.
func New(ops Operations, opts Options) *Server {
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	drain, stopDrain := context.WithCancel(context.Background())
	svc := &service{ops: ops, maxWait: opts.MaxWait, drain: drain}

	gopts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(boundUnary, authUnary(opts.Auth, log)),
		grpc.ChainStreamInterceptor(authStream(opts.Auth, log)),
		grpc.MaxRecvMsgSize(int(opts.MaxRequestBytes)),
		// net/http's HTTP/2 bound, which gRPC had behind ServeHTTP: with
		// MaxConnections it caps the calls (long waits included) held open.
		grpc.MaxConcurrentStreams(250),
	}
	services := []registered{
		{&longrunningpb.Operations_ServiceDesc, grpcOperations{svc: svc}},
		{&operationspb.ExportService_ServiceDesc, grpcExport{svc: svc}},
	}
	newGRPC := func(extra ...grpc.ServerOption) *grpc.Server {
		gs := grpc.NewServer(slices.Concat(gopts, extra, opts.GRPCOptions)...)
		for _, r := range services {
			gs.RegisterService(r.desc, r.impl)
		}
		return gs
	}
	// REST serves the same implementations on the routes the contract
	// declares; a contract the services cannot keep is a build defect
	// (TestContractRoutes), so it stops the program at start-up.
	routes, err := buildRoutes(services)
	if err != nil {
		panic("operations server: " + err.Error())
	}
	h := &rest{routes: routes, maxBody: opts.MaxRequestBytes}
	if len(opts.Routes) > 0 {
		h.extra = http.NewServeMux()
		for pattern, handler := range opts.Routes {
			h.extra.Handle(pattern, handler)
		}
	}

	s := &Server{opts: opts, log: log, grpc: newGRPC(), newGRPC: newGRPC, stopDrain: stopDrain}
	s.rest = authHTTP(opts, log, h)
	s.handler = http.HandlerFunc(s.route)
	return s
}

// Handler returns the combined gRPC + REST handler, for mounting in a
// server of the caller's own. Serve is the simpler choice: it also shuts
// down gracefully and cuts long waits short when it does.
//
// gRPC needs HTTP/2. Without TLS, the caller's http.Server must speak it
// unencrypted (prior knowledge, which is what gRPC clients send):
//
//	hs.Protocols = new(http.Protocols)
//	hs.Protocols.SetHTTP1(true)
//	hs.Protocols.SetUnencryptedHTTP2(true)
//
// (for an httptest.Server: set them on its Config before Start). REST
// works over either protocol. The "Upgrade: h2c" handshake of HTTP/1 is
// not supported; gRPC clients do not use it.
func (s *Server) Handler() http.Handler { return s.handler }

// route sends gRPC to the gRPC server, pages outside /v1/ to Pages (if
// any) and everything else to REST.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		s.grpc.ServeHTTP(w, r)
		return
	}
	if s.opts.Pages != nil && !strings.HasPrefix(r.URL.Path, "/v1/") {
		s.opts.Pages.ServeHTTP(w, r)
		return
	}
	s.rest.ServeHTTP(w, r)
}

// Serve serves on l until ctx is done, then shuts down gracefully: it stops
// accepting, ends WaitOperation calls early with the operation's current
// state, lets other requests finish for up to ShutdownTimeout and then
// closes what is left. It returns nil after a graceful shutdown. A Server
// serves once.
//
// gRPC and REST share l: connections that open with the HTTP/2 preface
// (gRPC clients) go to the gRPC server's own transport, the others to
// net/http, which serves REST over HTTP/1.1. (REST over unencrypted HTTP/2
// is served by Handler, not here.)
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No read or write timeout: WaitOperation answers take up to MaxWait.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// Stream workers here only: Serve stops them when it returns, and
	// nothing would stop those of Handler's server.
	gs := s.newGRPC(grpc.NumStreamWorkers(streamWorkers))
	sl := split(netutil.LimitListener(l, s.opts.MaxConnections), 10*time.Second)
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(sl.web) }()
	go func() {
		// nil after GracefulStop or Stop; an error only if the
		// listener failed.
		if err := gs.Serve(sl.grpc); err != nil {
			errc <- err
		}
	}()
	s.log.InfoContext(ctx, "serving operations", "addr", l.Addr().String())

	select {
	case err := <-errc:
		s.stopDrain()
		sl.Close()
		hs.Close()
		gs.Stop()
		return fmt.Errorf("serve operations on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	s.stopDrain()
	defer sl.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	grpcDone := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(grpcDone)
	}()
	err := hs.Shutdown(sctx)
	if err != nil {
		hs.Close()
		err = fmt.Errorf("shut down operations server: requests still running after %v were cut off: %w", s.opts.ShutdownTimeout, err)
	}
	select {
	case <-grpcDone:
	case <-sctx.Done():
		gs.Stop()
		<-grpcDone
		if err == nil {
			err = fmt.Errorf("shut down operations server: gRPC calls still running after %v were cut off", s.opts.ShutdownTimeout)
		}
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serve operations on %s: %w", l.Addr(), serr)
	}
	s.log.InfoContext(ctx, "operations server stopped", "err", err)
	return err
}

// authHTTP checks every REST request (see checkBrowser), authenticates it
// and logs it. Refusals are answered before the body is read and close the
// connection, so that a refused client cannot hold it by trickling a body.
// The body must arrive within BodyTimeout and the answer be written within
// MaxWait plus BodyTimeout.
func authHTTP(o Options, log *slog.Logger, next http.Handler) http.Handler {
	a := o.Auth
	noAuth := a != nil && a.mode == "none"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ctx := r.Context()
		rc := http.NewResponseController(w)
		now := time.Now()
		rc.SetWriteDeadline(now.Add(o.MaxWait + o.BodyTimeout)) // ErrNotSupported in recorders: no deadline
		if r.ContentLength != 0 {
			rc.SetReadDeadline(now.Add(o.BodyTimeout))
		}
		hs := r.Header.Values("Authorization")
		var c *Caller
		err := checkBrowser(r, noAuth, o.AllowedHosts)
		if err == nil {
			err = checkJSONBody(r)
		}
		if err == nil && len(hs) > 1 {
			err = errSeveralAuthorization
		}
		if err == nil {
			c, err = a.authenticate(ctx, r.Header.Get("Authorization"))
		}
		if err != nil {
			rec.Header().Set("Connection", "close")
			writeError(rec, err)
			// net/http would read up to 256 KiB of the unread body before
			// closing; an expired deadline makes it give up at once.
			rc.Flush()
			rc.SetReadDeadline(time.Now())
		} else {
			ctx = withCaller(ctx, c)
			next.ServeHTTP(rec, r.WithContext(ctx))
		}
		lvl := slog.LevelDebug
		if rec.status >= 500 {
			lvl = slog.LevelError
		}
		if log.Enabled(ctx, lvl) { // spares polls the log's allocations
			log.Log(ctx, lvl, "rest request", "method", r.Method, "path", r.URL.Path, "caller", subject(ctx), "status", rec.status)
		}
	})
}

// statusRecorder remembers the status a handler answered with, for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
