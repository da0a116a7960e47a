package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/spf13/cobra"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"pubexport/cmd/pubexport/internal/bytesize"
	"pubexport/cmd/pubexport/internal/cmdlog"
	"pubexport/cmd/pubexport/internal/jobenv"
	"pubexport/cmd/pubexport/internal/opsclient"
	"pubexport/cmd/pubexport/internal/progress"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/layout"
	"pubexport/export/sink"
	"pubexport/formats"
	"pubexport/formats/field"
	"pubexport/operations"
	"pubexport/operations/operationspb"
)

// defaultOfflineDir is where an offline run writes when --to is not given.
const defaultOfflineDir = "./exports"

type runFlags struct {
	org, resource, format, compression, to, apigeeURL string
	includeSecrets, noHeader, guardFormulas           bool
	csvDelimiter                                      string
	maxObjectSize                                     bytesize.Value
	output, server, token, store, verbosity           string
	async                                             bool
	notify                                            string
}

func newRunCmd(a *app) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Export developers, apps and/or API products now and show progress",
		Long: `Run exports one or all resources of an Apigee organization and shows their
progress until they end: a live bar per resource on a terminal, log lines
otherwise. It prints the URI of every ExportFinal_<sha256> object and of the
manifest, and exits non-zero with the operation's error if an export fails.

Each export is a google.longrunning operation. Without --server the
operations run in this process and are recorded in a local store (--store;
by default gs://BUCKET/.pubexport/operations for Cloud Storage, out of the
data's prefix, and ROOT/.pubexport/operations for a folder), where
'pubexport operations list --store ...' finds them later.

--to may hold placeholders, filled in per export: {org}, {resource}, {date}
(UTC YYYY-MM-DD), {time} (UTC HHMMSS) and {operation}, as in
gs://BUCKET/apigee/{resource}/{date}. The part before the first one is the
root, where every successful export moves the pointer LATEST/ORG/RESOURCE.json
('pubexport latest' reads it). With --server they are triggered on a
'pubexport serve' API and watched by polling it.

With neither --org nor --apigee-url (nor --server), run works offline: it
serves the bundled sample organization "acme" from a built-in Apigee emulator
and writes to ./exports.

Ctrl-C cancels the exports cleanly (the operations end CANCELLED and their
staging objects are removed; exit status 130). With --server, Ctrl-C only
stops the watching (exit status 130): the exports go on on the server, and
run prints the 'pubexport operations cancel NAME' command for each; --async
prints the operation names and exits at once. SIGTERM and SIGHUP (a
shutdown, a closed terminal) suspend them instead, at their last checkpoint
(exit status 143 and 129): 'pubexport operations resume NAME --store URI'
continues them, and it prints that command for each. A second signal exits
at once; after a crash or kill -9, resume works the same way.

Sizes accept plain bytes or units: 64MiB, 1GB (powers of 1000), 1GiB.`,
		Example: `  # Offline: the bundled sample organization, all resources, JSON, to ./exports
  pubexport run

  # One resource of a real organization (Application Default Credentials)
  pubexport run --org acme --resource apps --format csv --to gs://acme-exports/apigee

  # Parquet in 256 MiB objects, with consumer secrets
  pubexport run --org acme --format parquet --max-object-size 256MiB \
      --include-secrets --to gs://acme-exports/apigee

  # Gzipped NDJSON to a local folder, results as JSON for a script
  pubexport run --org acme --format ndjson --compression gzip --to file:///tmp/apigee \
      --output json | jq -r '.operations[].response.objects[].uri'

  # Against an emulator (cmd/apigee-emulator) or a proxy
  pubexport run --org acme --apigee-url http://127.0.0.1:8081 --to /tmp/apigee

  # Trigger the exports on a running 'pubexport serve' and watch them
  pubexport run --server http://127.0.0.1:8080 --org acme --to gs://acme-exports/apigee

  # Trigger and exit; follow later with 'pubexport operations wait NAME'
  pubexport run --server http://127.0.0.1:8080 --org acme --to 'gs://acme-exports/apigee/{resource}/{date}' --async`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExports(cmd.Context(), a, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.org, "org", "", "Apigee organization `NAME` (default: the bundled sample organization, offline)")
	fl.StringVar(&f.resource, "resource", "all", "what to export: "+resourceNames("all")+" (a comma list works too)")
	fl.StringVar(&f.format, "format", "json", "output format: "+formatNames())
	fl.StringVar(&f.compression, "compression", "", "none or gzip; parquet also zstd (its default) and snappy")
	fl.StringVar(&f.to, "to", "", "destination `URI`: gs://BUCKET/PREFIX, file:///DIR or a folder, placeholders {org} {resource} {date} {time} {operation} allowed (default ./exports when offline)")
	fl.StringVar(&f.apigeeURL, "apigee-url", "", "Apigee management API base `URL` (an emulator or a proxy)")
	fl.BoolVar(&f.includeSecrets, "include-secrets", false, "keep credentials[].consumerSecret in the output (redacted by default)")
	fl.StringVar(&f.csvDelimiter, "csv-delimiter", "", `CSV delimiter: ",", "|" or "\t" (csv only; default ",")`)
	fl.BoolVar(&f.noHeader, "no-header", false, "leave out the CSV header row (csv only)")
	fl.BoolVar(&f.guardFormulas, "guard-formulas", false, "prefix CSV cells starting with = + - @ with ' so spreadsheets do not run them (csv only)")
	fl.Var(&f.maxObjectSize, "max-object-size", "split the output into objects of about this `size` (e.g. 64MiB, 1GB; default one object)")
	fl.StringVar(&f.output, "output", "text", "result format: text, or json (the operations as protojson, for scripts)")
	fl.StringVar(&f.server, "server", "", "trigger on a 'pubexport serve' API at this `URL` (http://, https://, grpc://, grpcs://) instead of running here")
	fl.StringVar(&f.token, "token", "", "bearer `TOKEN` for --server (default $PUBEXPORT_TOKEN; for Cloud Run: $(gcloud auth print-identity-token))")
	fl.StringVar(&f.store, "store", "", "operation store `URI` for in-process runs: file:///DIR or gs://BUCKET/PREFIX (default gs://BUCKET/.pubexport/operations, or ROOT/.pubexport/operations for a folder)")
	fl.StringVar(&f.notify, "notify", "", "publish a message per ended export to `TOPIC`, pubsub://projects/P/topics/T (default $PUBEXPORT_NOTIFY)")
	fl.BoolVar(&f.async, "async", false, "with --server: print the operation names and exit at once instead of watching")
	fl.StringVar(&f.verbosity, "verbosity", "warning", "log level of the export's own messages: "+cmdlog.LevelNames())
	return cmd
}

// plan is a validated run.
type plan struct {
	reqs    []*operationspb.ExportRequest
	offline bool
	dest    string // as shown to the user
}

// parseRun validates the flags before anything is started, so that every
// mistake is reported at once with the flag to fix.
func parseRun(a *app, f *runFlags) (*plan, error) {
	p := &plan{offline: f.org == "" && f.apigeeURL == "" && f.server == ""}
	if err := checkRunWhere(a, f); err != nil {
		return nil, err
	}
	resources, tmpl, err := requestTemplate(f)
	if err != nil {
		return nil, err
	}
	p.dest = f.to
	if p.dest == "" {
		if !p.offline {
			return nil, usagef("--to is required: gs://BUCKET/PREFIX, file:///DIR or a folder")
		}
		p.dest = defaultOfflineDir
	}
	dest, err := normalizeDest(p.dest)
	if err != nil {
		return nil, err
	}
	org := f.org
	if p.offline {
		org = sampleOrg()
	}
	for _, r := range resources {
		req := proto.CloneOf(tmpl)
		req.Parent, req.Resource, req.Destination = "organizations/"+org, string(r), dest
		if _, err := operations.Spec(req); err != nil {
			return nil, usagef("%s", flagMessage(err))
		}
		p.reqs = append(p.reqs, req)
	}
	return p, nil
}

// checkRunWhere checks the flags that say where the exports run (in this
// process, or through --server) against each other, and the ones that
// apply to either.
func checkRunWhere(a *app, f *runFlags) error {
	switch {
	case f.org == "" && f.apigeeURL != "":
		return usagef("--org is required with --apigee-url: name the organization to export from %s", apigee.RedactURL(f.apigeeURL))
	case f.org == "" && f.server != "":
		return usagef("--org is required with --server: name the organization to export")
	}
	if f.output != "text" && f.output != "json" {
		return usagef("--output %q: want text or json", f.output)
	}
	if f.notify != "" && f.server != "" {
		return usagef("--notify applies to in-process runs; with --server the server notifies (serve --notify)")
	}
	if err := checkNotify("--notify", f.notify); err != nil {
		return err
	}
	a.notify = f.notify
	if f.async && f.server == "" {
		return usagef("--async needs --server: an export run in this process ends with the process")
	}
	if f.server != "" && f.store != "" {
		return usagef("--store applies to in-process runs; with --server the server keeps the operations")
	}
	if f.server == "" && f.token != "" {
		return usagef("--token applies only with --server (the token for that API); an in-process run uses Application Default Credentials")
	}
	_, err := parseLevel(f.verbosity)
	return err
}

// requestTemplate reads what to export and how to write it: the resources,
// and the request every one of them shares (format, compression, CSV
// options, source), without organization, resource or destination.
func requestTemplate(f *runFlags) ([]apigee.Resource, *operationspb.ExportRequest, error) {
	resources, err := parseResources(f.resource)
	if err != nil {
		return nil, nil, err
	}
	format, err := formats.ParseFormat(f.format)
	if err != nil {
		return nil, nil, usageError{err}
	}
	comp, err := formats.ParseCompression(format, f.compression)
	if err != nil {
		return nil, nil, usageError{err}
	}
	delim, err := parseDelimiter(f.csvDelimiter)
	if err != nil {
		return nil, nil, err
	}
	if format != formats.CSV && (f.csvDelimiter != "" || f.noHeader || f.guardFormulas) {
		return nil, nil, usagef("--csv-delimiter, --no-header and --guard-formulas apply only to --format csv, not %s", format)
	}
	tmpl := &operationspb.ExportRequest{
		Format:         string(format),
		Compression:    string(comp),
		ApigeeUrl:      f.apigeeURL,
		IncludeSecrets: f.includeSecrets,
		MaxObjectSize:  int64(f.maxObjectSize),
	}
	if format == formats.CSV {
		tmpl.Csv = &operationspb.CsvOptions{Delimiter: delim, NoHeader: f.noHeader, GuardFormulas: f.guardFormulas}
	}
	return resources, tmpl, nil
}

func parseResources(s string) ([]apigee.Resource, error) {
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return apigee.Resources(), nil
	}
	var out []apigee.Resource
	for _, part := range strings.Split(s, ",") {
		r, err := apigee.ParseResource(strings.ToLower(strings.TrimSpace(part)))
		if err != nil {
			return nil, usagef("--resource %q: want %s", s, resourceNames("all"))
		}
		if !slices.Contains(out, r) { // developers,developers is one export
			out = append(out, r)
		}
	}
	return out, nil
}

func parseDelimiter(s string) (string, error) {
	switch s {
	case "", ",", "|", "\t":
		return s, nil
	case `\t`, "tab", "TAB":
		return "\t", nil
	}
	return "", usagef(`--csv-delimiter %q: want ",", "|" or "\t" (tab)`, s)
}

// normalizeDest validates --to without I/O and makes a plain folder path an
// absolute file:// URI: the operation is recorded with its destination and
// may be resumed by a process with another working directory.
func normalizeDest(to string) (string, error) {
	if !strings.Contains(to, "://") && !strings.HasPrefix(to, "gs:") && !strings.HasPrefix(to, "file:") {
		abs, err := filepath.Abs(to)
		if err != nil {
			return "", usagef("--to %q: %v", to, err)
		}
		to = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
		// Placeholders stay readable: {date}, not %7Bdate%7D.
		to = strings.NewReplacer("%7B", "{", "%7D", "}").Replace(to)
	}
	if err := layout.Validate(to); err != nil {
		return "", usagef("--to: %v", err)
	}
	// sink.Open validates before any I/O; without authentication it
	// creates no credentials either, and a file:// destination is only
	// stat'ed. The bucket is closed at once. A template is checked filled.
	sample := layout.Expand(to, layout.Values{Org: "org", Resource: "apps", Operation: "operation", Time: time.Now()})
	b, err := sink.Open(context.Background(), sample, sink.WithClientOptions(option.WithoutAuthentication()))
	if err != nil {
		return "", usageError{err}
	}
	b.Close()
	return to, nil
}

// sampleOrg is the name of the bundled sample organization.
func sampleOrg() string {
	d := emulator.Sample()
	if len(d.Orgs) == 0 {
		return "acme"
	}
	return d.Orgs[0].Name
}

func runExports(ctx context.Context, a *app, f *runFlags) error {
	p, err := parseRun(a, f)
	if err != nil {
		return err
	}
	if f.async {
		return triggerAsync(ctx, a, f, p)
	}
	if f.server == "" {
		a.limitMemory(p.reqs)
	}
	// Subscribe before anything starts: a Ctrl-C from now on cancels
	// cleanly instead of killing the process with exports half started.
	sig, stopSignals := a.signals()
	defer stopSignals()
	disp := progress.New(a.stderr, progress.Options{Terminal: a.terminal})
	msgs := disp.Writer()
	if p.offline {
		// The first line says what is going on: this is the README's
		// first command, and nothing here talks to Google.
		fmt.Fprintf(msgs, "Offline: no --org or --apigee-url given, so exporting the bundled sample organization %q from a built-in Apigee emulator to %s (%s).\n",
			sampleOrg(), p.dest, p.reqs[0].GetFormat())
	}

	rb, err := openRunBackend(ctx, a, f, p, msgs)
	if err != nil {
		disp.Wait()
		return err
	}
	defer rb.stop()
	be := rb.be
	defer be.Close()

	items, pending, err := startExports(ctx, be, p.reqs, sig, disp)
	if err != nil {
		disp.Wait()
		return err
	}
	w := &watcher{a: a, be: be, items: items, interval: rb.interval, msgs: msgs, sig: sig}
	if f.server != "" {
		w.detach = "pubexport operations cancel %s --server " + f.server
	}
	stopped, werr := w.run(ctx, pending)
	disp.Wait()
	if werr != nil {
		tellResume(a, werr, stopped, items, rb.resume)
		return werr
	}
	if w.detached {
		return w.detachedError(finish(a, f.output, items, nil, ""))
	}
	return finish(a, f.output, items, stopped, rb.resume)
}

// startExports starts reqs one after the other, each with its line on the
// display. A signal before the last has started stops the starting and is
// returned as pending, for the watch to handle; an export that cannot start
// cancels those started before it (all or nothing), and an error is
// returned. It fails too when a signal came before any export started.
func startExports(ctx context.Context, be backend, reqs []*operationspb.ExportRequest, sig <-chan os.Signal, disp *progress.Display) (items []*watched, pending os.Signal, err error) {
	for _, req := range reqs {
		select {
		case pending = <-sig: // stop starting exports; the watch handles it
		default:
		}
		if pending != nil {
			break
		}
		op, err := be.Export(ctx, req)
		if err != nil {
			for _, w := range items {
				be.Cancel(context.WithoutCancel(ctx), w.op.GetName())
				w.task.Finish(snapshotOf(w.op), fmt.Errorf("cancelled: another export could not start"))
			}
			return nil, nil, fmt.Errorf("starting the %s export: %w", req.GetResource(), err)
		}
		fmt.Fprintf(disp.Writer(), "Started %s export %s\n", req.GetResource(), op.GetName())
		items = append(items, &watched{op: op, task: disp.Add(req.GetResource())})
	}
	if pending != nil && len(items) == 0 {
		return nil, nil, &exitError{code: signalExit(pending), err: fmt.Errorf("stopped by %s before any export started", pending)}
	}
	return items, pending, nil
}

// tellResume prints how to continue each export still running after the
// watch failed: the process exits with it, so an export it was running
// stays in the store as it last recorded it (its end not recorded, a
// signal's suspension, or a store that stopped answering reads, even with
// 404s, while the export went on) and only `operations resume` finishes
// it. An export cancelled by a signal is not resumed, unless the cancel
// could not be recorded either. resume is the command, with %s for the
// operation ("" for none).
func tellResume(a *app, werr error, stopped os.Signal, items []*watched, resume string) {
	cancelled := stopped != nil && cancels(stopped) && !errors.Is(werr, operations.ErrEndNotRecorded)
	if resume == "" || cancelled {
		return
	}
	for _, it := range items {
		if !it.op.GetDone() {
			fmt.Fprintf(a.stderr, "To continue %s: %s\n", labelOf(it.op), fmt.Sprintf(resume, it.op.GetName()))
		}
	}
}

// finish prints the results and chooses the exit code. stopped is the
// signal that stopped the exports, if any; resume is the command that
// continues a suspended operation, with %s for its name.
func finish(a *app, output string, items []*watched, stopped os.Signal, resume string) error {
	ops := make([]*longrunningpb.Operation, len(items))
	for i, w := range items {
		ops[i] = w.op
	}
	if output == "json" {
		if err := printJSON(a.stdout, &longrunningpb.ListOperationsResponse{Operations: ops}); err != nil {
			return err
		}
	} else {
		for _, op := range ops {
			printResult(a.stdout, op)
		}
	}
	var failed []error
	cancelled, unfinished := 0, 0
	for _, op := range ops {
		if err := opError(op); err != nil {
			failed = append(failed, err)
		}
		if stateOf(op) == "CANCELLED" {
			cancelled++
		}
		if !op.GetDone() {
			unfinished++
			if stopped != nil && !cancels(stopped) && resume != "" {
				fmt.Fprintf(a.stderr, "To continue %s: %s\n", labelOf(op), fmt.Sprintf(resume, op.GetName()))
			}
		}
	}
	switch {
	case stopped != nil && cancels(stopped):
		return &exitError{code: signalExit(stopped), err: fmt.Errorf("interrupted: %d of %d exports cancelled", cancelled, len(ops))}
	case stopped != nil:
		return &exitError{code: signalExit(stopped), err: fmt.Errorf("stopped by %s: %d of %d exports not finished", stopped, unfinished, len(ops))}
	}
	for i, err := range failed {
		if i < len(failed)-1 {
			printError(a.stderr, err, requestFlags)
		}
	}
	if len(failed) > 0 {
		return &exitError{code: exitFailed, err: failed[len(failed)-1]}
	}
	return nil
}

// runBackend is what a run talks to.
type runBackend struct {
	be       backend
	stop     func() // stops the built-in emulator, if any
	interval time.Duration
	// resume is the command that continues an unfinished operation (%s is
	// its name).
	resume string
}

// openRunBackend starts what a run needs: the emulator when offline, and
// either the in-process operations manager or a client of --server.
func openRunBackend(ctx context.Context, a *app, f *runFlags, p *plan, msgs io.Writer) (*runBackend, error) {
	if f.server != "" {
		token := f.token
		if token == "" {
			token = a.getenv("PUBEXPORT_TOKEN")
		}
		c, err := opsclient.Dial(ctx, f.server, token)
		if err != nil {
			return nil, usageError{err}
		}
		return &runBackend{be: c, stop: func() {}, interval: 500 * time.Millisecond,
			resume: "pubexport operations wait %s --server " + f.server}, nil
	}
	stopEmu := func() {}
	if p.offline {
		emu, err := emulator.Start(emulator.Sample(), emulator.Options{})
		if err != nil {
			return nil, fmt.Errorf("starting the built-in Apigee emulator: %w", err)
		}
		stopEmu = emu.Close
		for _, req := range p.reqs {
			req.ApigeeUrl = emu.URL
		}
	}
	level, _ := parseLevel(f.verbosity)
	log := slog.New(slog.NewTextHandler(msgs, &slog.HandlerOptions{Level: level}))
	storeURI, legacy, flag := f.store, "", "--store"
	if storeURI == "" {
		storeURI, legacy = storeFor(p.reqs[0].GetDestination())
		flag = "--to"
	}
	be, err := newLocal(ctx, a, flag, storeURI, log, legacy)
	if err != nil {
		stopEmu()
		return nil, err
	}
	resume := "pubexport operations resume %s --store " + storeURI
	if p.offline {
		// The built-in emulator is gone with this process.
		resume = ""
	}
	return &runBackend{be: be, stop: stopEmu, interval: 200 * time.Millisecond, resume: resume}, nil
}

// requestFlags maps ExportRequest fields, which start operations.Spec's
// messages and name the values libraries refuse (see fieldMessage), to the
// flags that set them.
var requestFlags = map[string]string{
	"parent":          "--org",
	"resource":        "--resource",
	"format":          "--format",
	"compression":     "--compression",
	"destination":     "--to",
	"apigee_url":      "--apigee-url",
	"csv.delimiter":   "--csv-delimiter",
	"csv":             "--csv-delimiter/--no-header/--guard-formulas",
	"max_object_size": "--max-object-size",
	// As a REST server names them (JSON names).
	"apigeeUrl":     "--apigee-url",
	"maxObjectSize": "--max-object-size",
}

// requestVars maps the same fields to the job's environment variables.
var requestVars = map[string]string{
	"parent":          jobenv.Org,
	"resource":        jobenv.Resources,
	"format":          jobenv.Format,
	"compression":     jobenv.Compression,
	"destination":     jobenv.Destination,
	"apigee_url":      jobenv.ApigeeURL,
	"csv.delimiter":   jobenv.CSVDelimiter,
	"csv":             jobenv.CSVDelimiter + "/" + jobenv.CSVNoHeader + "/" + jobenv.CSVGuard,
	"max_object_size": jobenv.MaxObjectSize,
	"apigeeUrl":       jobenv.ApigeeURL,
	"maxObjectSize":   jobenv.MaxObjectSize,
}

// flagMessage rewrites a request validation message to name the flag.
func flagMessage(err error) string { return renameField(message(err), requestFlags) }

// renameField replaces the request field that starts msg with the name the
// user set it by.
func renameField(msg string, names map[string]string) string {
	if rest, ok := strings.CutPrefix(msg, "request:"); ok {
		return strings.TrimSpace(rest)
	}
	if f, rest, ok := strings.Cut(msg, ":"); ok {
		if name, known := names[f]; known {
			return name + ":" + rest
		}
	}
	return msg
}

// fieldMessage is err's message with the value a library refused called by
// the name the user set it by: names maps request fields to flags or
// variables. The value is found as a *field.Error in err or, in an error
// that crossed an operation record or the API, as a google.rpc.BadRequest
// field violation; the libraries name it as the request does, but for the
// organization (the request's parent).
func fieldMessage(err error, names map[string]string) string {
	msg := message(err)
	for _, d := range operations.ErrorStatus(err).Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			name, known := names[v.GetField()]
			if !known {
				continue
			}
			lib := v.GetField()
			if lib == "parent" {
				lib = field.Organization
			}
			for _, said := range []string{lib, v.GetField()} {
				if old := said + ": " + v.GetDescription(); strings.Contains(msg, old) {
					msg = strings.Replace(msg, old, name+": "+v.GetDescription(), 1)
					break
				}
			}
		}
	}
	return msg
}

// parseLevel reads --verbosity (cmdlog's one vocabulary of levels).
func parseLevel(s string) (slog.Level, error) {
	l, err := cmdlog.ParseLevel(s)
	if err != nil {
		return 0, usagef("--verbosity: %v", err)
	}
	return l, nil
}
