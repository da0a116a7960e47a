// Package console is the export console: the web page that `pubexport
// serve` shows at /, where people who are not at a terminal export
// developers, apps and API products, watch the operations in a
// notification panel and download what they produced.
//
// The page holds no data. It is server-rendered (html/template) with the
// choices the server offers, and a small script fetches everything else
// from the REST API with the caller's bearer token (kept in the tab's
// sessionStorage, sent in the Authorization header, never in a cookie), so
// that the console sees exactly what the API lets the caller see and
// nothing on the page can be forged by another site. A few console-only
// endpoints (the caller's organizations, an operation's request, object
// downloads) are served like the API, behind the same authentication: see
// [Console.Routes]. Everything is embedded in the binary; there is no build
// step.
package console

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"

	"pubexport/export/sink"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
)

// Records reads an operation's stored record: the request that started it
// and its times, which the operation itself does not carry. store.Store
// satisfies it.
type Records interface {
	Get(ctx context.Context, name string) (*operationspb.OperationRecord, int64, error)
}

// Options configure a Console.
type Options struct {
	// Operations answers for the operations: the server's own, so that a
	// download reads what the API shows. Required.
	Operations server.Operations
	// Records gives the details view each operation's request (format,
	// destination) and times; nil leaves them out.
	Records Records
	// Organizations are offered to callers granted every organization (and
	// to everyone without authentication); such callers may also type
	// another name. A caller granted organizations by name is offered
	// exactly those.
	Organizations []string
	// DefaultDestination pre-fills the export dialog's destination.
	DefaultDestination string
	// AllowedDestinations are the server's destination prefixes
	// (--allow-destination), offered as choices and shown as a hint.
	AllowedDestinations []string
	// ApigeeURL is the Apigee base URL the console's triggers name; empty
	// means Apigee's API. An emulator needs it (the server must allow it).
	ApigeeURL string
	// CheckDestination vets the destination an object is downloaded from,
	// as triggers are vetted (the server's policy); nil allows any.
	CheckDestination func(destination string) error
	// Open opens a destination for reading downloads; nil means sink.Open.
	Open func(ctx context.Context, destination string) (sink.Bucket, error)
	// Logger receives download failures; nil discards them.
	Logger *slog.Logger
}

// Console serves the export console. Mount it on the API server with
// server.Options{Pages: c.Pages(), Routes: c.Routes()}.
type Console struct {
	opts  Options
	log   *slog.Logger
	pages *template.Template
}

// New returns a console.
func New(opts Options) (*Console, error) {
	if opts.Operations == nil {
		return nil, fmt.Errorf("console: Options.Operations is required")
	}
	if opts.Open == nil {
		opts.Open = func(ctx context.Context, dest string) (sink.Bucket, error) { return sink.Open(ctx, dest) }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Console{opts: opts, log: log, pages: t}, nil
}

// Pages serves the page and its static files: GET / (exports),
// GET /operations and GET /console/static/*. They need no authentication
// and hold no data.
func (c *Console) Pages() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.page("exports"))
	mux.HandleFunc("GET /operations", c.page("operations"))
	mux.HandleFunc("GET /console/static/{file}", serveStatic)
	mux.HandleFunc("/", notFoundPage)
	return mux
}

// Routes are the console's endpoints served like the API (authenticated,
// errors in Google's JSON shape):
//
//	GET /v1/console/session                               the caller's organizations and the dialog's defaults
//	GET /v1/console/details?operation=NAME                the operation's request and times
//	GET /v1/console/download?operation=NAME&object=NAME   an object of a finished export, streamed
func (c *Console) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"/v1/console/session":  get(c.session),
		"/v1/console/details":  get(c.details),
		"/v1/console/download": get(c.download),
	}
}
