package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"pubexport/export/apigee"
	"pubexport/export/sink"
	"pubexport/formats"
)

// ErrSuspend, given as the cause when cancelling a run's context
// (context.WithCancelCause), asks the run to stop without cleaning up: its
// last checkpoint and staging parts stay so that another process can resume
// it. Any other cancellation ends the run for good and removes its staging.
var ErrSuspend = errors.New("export suspended to be resumed")

// DefaultCheckpointEvery is the number of pages between checkpoints: often
// enough that a crash loses little (10k records at 1000 a page), rarely
// enough that checkpoints cost nothing measurable.
const DefaultCheckpointEvery = 10

// Runner runs exports. Source and Bucket are required; the rest is optional.
type Runner struct {
	Source Source
	Bucket sink.Bucket
	// OnProgress is called after every page and every published object.
	OnProgress func(Progress)
	// OnCheckpoint is called with the state a later run can resume from.
	// An error from it fails the run: a checkpoint that cannot be kept
	// makes the promise of resumption false.
	OnCheckpoint func(context.Context, *Checkpoint) error
	// Resume continues the run that wrote this checkpoint.
	Resume *Checkpoint
	// StagingID names the run's staging folder (an operation id); a random
	// one is made when empty. A resumed run keeps its checkpoint's.
	StagingID string
	// MaxParallelRequests caps the Apigee requests in flight for the
	// export (apigee.DefaultParallelRequests when zero); above 1 the apps
	// passes are read at the same time (see spill.go).
	MaxParallelRequests int
	// CheckpointEvery is the number of pages between checkpoints
	// (DefaultCheckpointEvery when zero).
	CheckpointEvery int
	Logger          *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// StagingPrefix is the folder, under the destination prefix, where runs keep
// their staging objects until they are published.
const StagingPrefix = ".pubexport-staging/"

// Run exports spec.Resource of spec.Org to the bucket. It validates the spec
// and checks the destination and the organization before writing anything.
//
// Those checks, the removal of an earlier attempt's staging objects and the
// first page request are each a round trip (one to Apigee of a page's
// latency, the others to the bucket), so a fresh run makes them at the same
// time: the first page is asked for while the checks are under way, and
// nothing is written (no staging part, no spilled page) until they pass.
// A failed check is reported as it was found, whatever the page request
// answered meanwhile. When reading the organization is denied, the first
// page is its check (see prepare).
func (r *Runner) Run(ctx context.Context, spec Spec) (*Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if n := r.MaxParallelRequests; n != 0 {
		if err := apigee.CheckParallelRequests(n); err != nil {
			return nil, err
		}
	}
	x, err := r.newRun(spec)
	if err != nil {
		return nil, err
	}
	x.prepare(ctx)
	res, err := x.run(ctx)
	if err == nil {
		return res, nil
	}
	if x.obj != nil {
		x.obj.abort()
	}
	var pe *prepareError
	if errors.As(err, &pe) {
		return nil, pe.err // nothing of this run was written
	}
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), ErrSuspend) {
			return nil, status.Errorf(codes.Aborted, "export of %s suspended after page %d; resume it to continue", spec.Target(), x.cp.Pages)
		}
		err = fmt.Errorf("%w (%v)", status.FromContextError(ctx.Err()).Err(), err)
	}
	if cerr := Cleanup(context.WithoutCancel(ctx), r.Bucket, x.cp.StagingID); cerr != nil {
		x.log.Warn("could not remove staging objects", "staging", x.cp.StagingID, "error", cerr)
	}
	return nil, fmt.Errorf("export of %s: %w", spec.Target(), err)
}

// Cleanup removes the staging objects of a run: after a failure, or when an
// operation that died is given up rather than resumed.
func Cleanup(ctx context.Context, b sink.Bucket, stagingID string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	objs, err := b.List(ctx, StagingPrefix+stagingID+"/")
	if err != nil {
		return fmt.Errorf("listing staging objects: %w", err)
	}
	var errs []error
	for _, o := range objs {
		if err := b.Delete(ctx, o.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// run is the state of one export in progress.
type run struct {
	r          *Runner
	spec       Spec
	md         protoreflect.MessageDescriptor
	log        *slog.Logger
	now        func() time.Time
	resumable  bool
	resumed    bool
	cp         Checkpoint // counters, cursor and published objects
	obj        *object    // the object being written
	attrsFinal sink.Attrs
	// trackKeys says that checkpoints carry the keys of the records
	// exported; keys holds those of the pages since the last checkpoint.
	trackKeys bool
	keys      []uint64
	waiting   time.Duration // for the next page, see waitNotice
	shown     steadyTotal   // the total progress reports
	expected  int64         // the source's estimate, -1 without (see progressTotal)

	// restart (a Parquet run resumed from the start) and rerun (a fresh
	// run under a known staging id) remove the staging objects of the
	// earlier attempt before writing; ready says when the checks and that
	// removal are done, dest when the bucket side is and checked when the
	// organization check has answered; listed is the first page's verdict,
	// the organization check when reading the organization was denied (see
	// prepare); estimate delivers the record count of the last manifest.
	restart, rerun bool
	dest, ready    *gate
	checked        *gate
	listed         *gate
	estimate       chan int64
}

// waitNotice is how long the run waits for a page before its progress says
// it is waiting on Apigee, and how often it says so again.
const waitNotice = 2 * time.Second

func (r *Runner) newRun(spec Spec) (*run, error) {
	x := &run{
		r:         r,
		spec:      spec,
		md:        spec.Resource.Descriptor(),
		log:       r.Logger,
		now:       r.Now,
		resumable: spec.Format.Resumable(),
		shown:     newSteadyTotal(),
		expected:  -1,
	}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	if x.now == nil {
		x.now = time.Now
	}
	fp, err := fingerprint(spec)
	if err != nil {
		return nil, err
	}
	every := r.CheckpointEvery
	if every <= 0 {
		every = DefaultCheckpointEvery
	}
	x.cp = Checkpoint{Version: checkpointVersion, Fingerprint: fp, StagingID: r.StagingID, Every: every, Started: x.now().UTC(), Total: -1}
	if x.cp.StagingID == "" {
		x.cp.StagingID = uuid.NewString()
	}
	// No Content-Encoding, ever: see formats.Compression.ContentType.
	x.attrsFinal = sink.Attrs{ContentType: spec.Compression.ContentType(spec.Format)}

	if c := r.Resume; c != nil {
		switch {
		case c.Version < oldestCheckpointVersion || c.Version > checkpointVersion:
			return nil, status.Errorf(codes.FailedPrecondition, "cannot resume: checkpoint version %d, this pubexport resumes %d to %d; start a new export", c.Version, oldestCheckpointVersion, checkpointVersion)
		case c.Fingerprint != fp:
			return nil, status.Errorf(codes.FailedPrecondition, "cannot resume: the checkpoint belongs to another export spec; start a new export")
		case !x.resumable:
			// Parquet cannot be continued: start over in a clean folder
			// (see prepare).
			x.cp.StagingID = c.StagingID
			x.cp.Started = c.Started
			x.restart = true
		default:
			x.cp = *c
			x.cp.Published = append([]Object(nil), c.Published...)
			x.cp.KeyParts = append([]string(nil), c.KeyParts...)
			x.cp.Version = checkpointVersion // its next checkpoint is of this version
			x.resumed = true
		}
	}
	// A fresh run under a known id may be the rerun of an attempt that
	// died before its first checkpoint: its parts are of no use now.
	x.rerun = r.Resume == nil && r.StagingID != ""
	if !x.resumed && x.resumable && r.OnCheckpoint != nil {
		x.cp.KeySeed = newKeySeed()
	}
	return x, nil
}

// fingerprint identifies the spec's output: a checkpoint may be resumed only
// by a run whose bytes would continue the ones already written.
func fingerprint(spec Spec) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("fingerprinting the spec: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// errNoFirstPage decides run.listed for a run that ended before its first
// page: nothing waits for it then but prepare, whose verdict comes too late
// to matter.
var errNoFirstPage = errors.New("the export ended before its first page")

type fetched struct {
	page *apigee.Page
	keys []uint64 // hashes of the page's record keys, from a keyTracker
	err  error
}

func (x *run) run(ctx context.Context) (*Result, error) {
	// prepare may wait for the first page: it must not wait for a run
	// that ended before one.
	defer x.listed.decide(errNoFirstPage)
	if x.resumed {
		// A resumed run reads its staging objects (the keys) before the
		// first page: the organization check comes first.
		if err := x.checked.wait(); err != nil {
			return nil, &prepareError{err}
		}
	}

	// The fetcher runs ahead of the encoder through a bounded channel: one
	// decoded page waits in it, one more waits to be sent, one is being
	// encoded and uploaded, and the Lister has the next requested ahead, so
	// memory is bounded by a few pages. That still rides out an encoder
	// stalled for a page's latency (a staging part closed at a checkpoint);
	// a second page in the channel only held more memory when the encoder
	// is the slower side (Parquet).
	fctx, stop := context.WithCancel(ctx)
	pages := x.r.Source.Pages(x.spec.Org, x.spec.Resource, x.cp.Cursor)
	kt, _ := pages.(keyTracker)
	if pn, ok := pages.(pageNumberer); ok {
		pn.NumberPagesFrom(x.cp.Pages)
	}
	if err := x.startKeys(ctx, kt); err != nil {
		stop()
		return nil, err
	}
	x.readAhead(pages)
	ch := make(chan fetched, 1)
	go func() {
		defer close(ch)
		if c, ok := pages.(interface{ Close() }); ok {
			// Before ch closes: the run waits for ch, and what the
			// listing spills must be written before the staging goes.
			defer c.Close()
		}
		defer func() {
			// A panic here would end the process, not just this run.
			if p := recover(); p != nil {
				err := PanicError(x.log, "reading the pages of "+x.spec.Target(), p)
				x.listed.decide(err) // the run may wait for it before reading ch
				select {
				case ch <- fetched{err: err}:
				case <-fctx.Done():
				}
			}
		}()
		if x.dest.wait() != nil {
			return // the run reports the failed check
		}
		for {
			p, err := pages.Next(fctx)
			if errors.Is(err, io.EOF) {
				x.listed.decide(nil)
			} else {
				x.listed.decide(err)
			}
			var keys []uint64
			if kt != nil {
				// Taken right after Next, in this goroutine: the keys of
				// exactly this page, not of pages requested ahead.
				keys = kt.TakeNewKeys()
			}
			select {
			case ch <- fetched{p, keys, err}:
			case <-fctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		stop()
		for range ch { // wait for the fetcher to leave
		}
	}()

	// The first page is on its way; writing waits for the checks.
	if err := x.ready.wait(); err != nil {
		return nil, &prepareError{err}
	}
	if err := x.openObject(ctx); err != nil {
		return nil, err
	}
	if x.resumed {
		x.log.Info("resuming", "page", x.cp.Pages, "records", x.cp.Records, "object", x.cp.ObjectIndex)
	}

	// While no page comes, progress says the export is waiting on Apigee
	// (a slow answer, or a request retried through a quota window), so
	// that nobody watching takes a long wait for a hang.
	tick := time.NewTicker(waitNotice)
	defer tick.Stop()
	last := x.now()
	for {
		var f fetched
		var ok bool
		select {
		case f, ok = <-ch:
		case <-tick.C:
			if d := x.now().Sub(last); d >= waitNotice {
				x.waiting = d
				x.progress()
			}
			continue
		}
		if !ok {
			break
		}
		last, x.waiting = x.now(), 0
		if err := ctx.Err(); err != nil {
			return nil, err // cancelled or suspended: write and checkpoint nothing more
		}
		if errors.Is(f.err, io.EOF) {
			break
		}
		if f.err != nil {
			return nil, fmt.Errorf("reading page %d: %w", x.cp.Pages+1, f.err)
		}
		if x.trackKeys {
			x.keys = append(x.keys, f.keys...)
		}
		x.takeEstimate()
		if err := x.page(ctx, f.page); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if x.obj.records > 0 || len(x.cp.Published) == 0 {
		if err := x.publishObject(ctx, false); err != nil {
			return nil, err
		}
	} else {
		x.obj.abort() // the last cut fell on the last page: no empty trailing object
	}
	return x.finish(ctx)
}

// page writes one page and decides whether to checkpoint or cut the object.
func (x *run) page(ctx context.Context, p *apigee.Page) error {
	for _, rec := range p.Records {
		if !x.spec.IncludeSecrets {
			redact(rec)
		}
		if err := x.obj.enc.Encode(rec); err != nil {
			return fmt.Errorf("encoding %s %q on page %d: %w", x.spec.Resource, x.spec.Resource.Key(rec), p.Number, err)
		}
	}
	n := int64(len(p.Records))
	x.obj.records += n
	x.cp.Records += n
	x.cp.Pages++
	x.cp.Cursor = p.Next
	x.cp.Spilled = p.Spilled
	x.cp.Duplicates += int64(p.Duplicates)
	x.cp.Overlaps += int64(p.Overlaps)
	x.cp.Unknown += int64(p.Unknown)
	x.cp.Warnings = apigee.MergeWarnings(x.cp.Warnings, p.Warnings)
	if p.TotalSize >= 0 {
		x.cp.Total, x.cp.TotalAll = p.TotalSize, p.TotalAll
	}
	if p.Expected > 0 { // 0 is also a Page's zero value: no estimate
		x.expected = p.Expected
	}
	x.progress()

	if max := x.spec.MaxObjectSize; max > 0 && x.obj.dg.size >= max {
		return x.publishObject(ctx, true)
	}
	if x.resumable && x.cp.Pages%int64(x.cp.Every) == 0 {
		return x.checkpoint(ctx)
	}
	return nil
}

// startKeys sets up the source's deduplication to carry across a resume:
// a resumed run gives it the keys of the records exported before the
// checkpoint; a run that keeps checkpoints collects the keys it exports.
// A source that is no keyTracker deduplicates (if at all) on its own.
func (x *run) startKeys(ctx context.Context, kt keyTracker) error {
	if kt == nil || x.cp.KeySeed == "" {
		return nil
	}
	if x.resumed {
		if err := restoreKeys(ctx, x.r.Bucket, &x.cp, kt); err != nil {
			return err
		}
		x.log.Info("restored the keys of the records exported before the checkpoint", "keys", x.cp.Keys, "parts", len(x.cp.KeyParts))
	} else {
		seed, err := parseKeySeed(x.cp.KeySeed)
		if err != nil {
			return err
		}
		kt.TrackKeys(seed)
	}
	x.trackKeys = x.r.OnCheckpoint != nil
	return nil
}

func (x *run) progress() {
	if x.r.OnProgress == nil {
		return
	}
	var current int64
	if x.obj != nil {
		current = x.obj.dg.size
	}
	x.r.OnProgress(Progress{
		Records:    x.cp.Records,
		Pages:      x.cp.Pages,
		Bytes:      x.cp.Bytes + current,
		Objects:    int64(len(x.cp.Published)),
		Total:      x.shown.next(x.cp.Records, x.progressTotal()),
		Duplicates: x.cp.Duplicates,
		Unknown:    x.cp.Unknown,
		Warnings:   texts(x.cp.Warnings),
		Waiting:    x.waiting,
	})
}

// total is the number of records the source reported, -1 if unknown: for
// apps the passes' totals less the apps that two passes listed, unless
// the one total they all reported counts every app.
func (x *run) total() int64 {
	if x.cp.Total < 0 {
		return -1
	}
	if x.cp.TotalAll {
		return x.cp.Total
	}
	return x.cp.Total - x.cp.Overlaps
}

// progressTotal is the total progress works from: the source's own estimate
// of what it delivers (apps: overlaps foreseen, see apigee.Page.Expected)
// where it has one below total, else total. A resumed listing foresees
// nothing of the passes before its cursor, and total has their overlaps.
func (x *run) progressTotal() int64 {
	t := x.total()
	if x.expected >= 0 && (t < 0 || x.expected < t) {
		return x.expected
	}
	return t
}

func texts(ws []apigee.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

// checkpoint cuts the staging object at a record boundary and records where
// the run stands. The cut (which also ends a gzip member) happens whether or
// not anyone keeps checkpoints, so that a clean run and a resumed one write
// the same bytes.
func (x *run) checkpoint(ctx context.Context) error {
	if err := x.obj.enc.Flush(); err != nil {
		return fmt.Errorf("flushing the encoder: %w", err)
	}
	if err := x.obj.closePart(); err != nil {
		return err
	}
	return x.saveCheckpoint(ctx)
}

func (x *run) saveCheckpoint(ctx context.Context) error {
	if x.r.OnCheckpoint == nil || !x.resumable {
		return nil
	}
	st, err := x.obj.dg.state()
	if err != nil {
		return err
	}
	if len(x.keys) > 0 {
		// The keys go before the checkpoint that names them.
		name := x.stagingName(fmt.Sprintf("keys-%05d", len(x.cp.KeyParts)))
		if err := writeKeys(ctx, x.r.Bucket, name, x.keys); err != nil {
			return fmt.Errorf("saving the keys of a checkpoint: %w", err)
		}
		x.cp.KeyParts = append(x.cp.KeyParts, name)
		x.cp.Keys += int64(len(x.keys))
		x.keys = x.keys[:0]
	}
	cp := x.cp
	cp.Published = append([]Object(nil), x.cp.Published...)
	cp.KeyParts = append([]string(nil), x.cp.KeyParts...)
	cp.ObjectIndex = x.obj.index
	cp.ObjectRecords = x.obj.records
	cp.Parts = append([]string(nil), x.obj.parts...)
	cp.Digest = st
	if err := x.r.OnCheckpoint(ctx, &cp); err != nil {
		return fmt.Errorf("saving a checkpoint: %w", err)
	}
	return nil
}

// publishObject completes the current object and publishes it under its
// content hash; with more to come it opens the next object.
func (x *run) publishObject(ctx context.Context, more bool) error {
	o := x.obj
	if err := o.enc.Close(); err != nil {
		return fmt.Errorf("closing the encoder: %w", err)
	}
	if err := o.closePart(); err != nil {
		return err
	}
	if err := o.stageEmpty(); err != nil {
		return err
	}
	src, info := o.parts[0], o.lastInfo
	composed := len(o.parts) > 1
	if composed {
		src = x.stagingName(fmt.Sprintf("object-%04d", o.index))
		var err error
		if info, err = x.r.Bucket.Compose(ctx, src, o.parts, sink.Attrs{}); err != nil {
			return fmt.Errorf("composing %d staging parts: %w", len(o.parts), err)
		}
	}
	sha, crc := o.dg.sum()
	// Check the staged bytes before they get a name that promises them: a
	// wrong object published under its hash would stay there, found as
	// "already exported" by every rerun. (A single part closed by the
	// process this run resumed has no info here; Publish's answer is checked
	// below.)
	if info.Name == src && (info.Size != o.dg.size || (info.CRC32C != 0 && info.CRC32C != crc)) {
		return status.Errorf(codes.DataLoss, "staged object %s holds %d bytes (CRC32C %08x), the export wrote %d (CRC32C %08x); nothing was published, run the export again", src, info.Size, info.CRC32C, o.dg.size, crc)
	}
	name := "ExportFinal_" + sha + x.spec.Format.Extension(x.spec.Compression)
	attrs := x.attrsFinal
	attrs.Metadata = map[string]string{
		"pubexport-organization": x.spec.Org,
		"pubexport-resource":     string(x.spec.Resource),
		"pubexport-records":      fmt.Sprint(o.records),
		"pubexport-sha256":       sha,
	}
	info, created, err := x.r.Bucket.Publish(ctx, src, name, attrs)
	if err != nil {
		return fmt.Errorf("publishing %s: %w", name, err)
	}
	if info.Size != o.dg.size || (info.CRC32C != 0 && info.CRC32C != crc) {
		return status.Errorf(codes.DataLoss, "%s holds %d bytes (CRC32C %08x), the export wrote %d (CRC32C %08x): an object of that name with other content was already there; delete %s and run the export again", x.r.Bucket.URI(name), info.Size, info.CRC32C, o.dg.size, crc, x.r.Bucket.URI(name))
	}
	x.cp.Published = append(x.cp.Published, Object{
		Name: name, URI: x.r.Bucket.URI(name), Size: o.dg.size, Records: o.records,
		SHA256: sha, CRC32C: crc, ContentType: attrs.ContentType, Existed: !created,
	})
	x.cp.Bytes += o.dg.size
	x.log.Info("published", "object", x.r.Bucket.URI(name), "records", o.records, "bytes", o.dg.size, "existed", !created)
	x.progress()
	if !more {
		// The last object's staging stays until the manifest is written
		// (finish removes the whole staging folder): a run stopped in
		// between resumes from its last checkpoint, which names these parts.
		return nil
	}
	if err := x.openObject(ctx); err != nil {
		return err
	}
	// Record the cut before the staging goes: a crash in between resumes
	// after the published object rather than from parts now deleted.
	if err := x.saveCheckpoint(ctx); err != nil {
		return err
	}
	staging := o.parts
	if composed {
		staging = append(staging, src)
	}
	for _, name := range staging {
		if err := x.r.Bucket.Delete(ctx, name); err != nil {
			// The object is published and checkpointed; a leftover part
			// costs storage, not correctness, and finish removes the
			// staging folder again.
			x.log.Warn("could not delete a staging object", "object", name, "error", err)
		}
	}
	return nil
}

// finish writes the manifest and returns the result.
func (x *run) finish(ctx context.Context) (*Result, error) {
	if w, ok := apigee.CheckTotal(x.spec.Resource, x.cp.Records, x.total(), x.cp.TotalAll); ok {
		x.cp.Warnings = apigee.MergeWarnings(x.cp.Warnings, []apigee.Warning{w})
	}
	for _, w := range x.cp.Warnings {
		x.log.Warn("export warning", "warning", w.String())
	}
	res := &Result{
		Objects:         x.cp.Published,
		Records:         x.cp.Records,
		Pages:           x.cp.Pages,
		Duplicates:      x.cp.Duplicates,
		Unknown:         x.cp.Unknown,
		Warnings:        texts(x.cp.Warnings),
		SecretsIncluded: x.spec.IncludeSecrets,
		Started:         x.cp.Started,
		Finished:        x.now().UTC(),
	}
	schema, err := x.writeSchema(ctx)
	if err != nil {
		return nil, err
	}
	res.Schema = schema
	m, err := x.writeManifest(ctx, res)
	if err != nil {
		return nil, err
	}
	res.Manifest = m
	if err := x.stamp(ctx, res); err != nil {
		return nil, err
	}
	// Anything left in the staging folder (parts of a crashed attempt that
	// the checkpoint did not name) goes now.
	if err := Cleanup(ctx, x.r.Bucket, x.cp.StagingID); err != nil {
		x.log.Warn("could not remove leftover staging objects", "error", err)
	}
	return res, nil
}

func (x *run) stagingName(base string) string {
	return StagingPrefix + x.cp.StagingID + "/" + base
}

// openObject starts the object x.cp.ObjectIndex names, or continues it when
// the run was resumed from a checkpoint taken inside it.
func (x *run) openObject(ctx context.Context) error {
	o := &object{ctx: ctx, bucket: x.r.Bucket, dg: newDigest()}
	if x.obj == nil && x.resumed {
		dg, err := restoreDigest(x.cp.Digest)
		if err != nil {
			return status.Errorf(codes.FailedPrecondition, "cannot resume: %v", err)
		}
		o.dg, o.index, o.records = dg, x.cp.ObjectIndex, x.cp.ObjectRecords
		o.parts = append([]string(nil), x.cp.Parts...)
	} else if x.obj != nil {
		o.index = x.obj.index + 1
	}
	o.namePart = func(n int) string {
		return x.stagingName(fmt.Sprintf("object-%04d-part-%05d", o.index, n))
	}
	enc, err := formats.NewEncoder(o, x.spec.Format, x.md, formats.Options{
		Compression: x.spec.Compression,
		CSV:         x.spec.CSV,
		Written:     o.records,
	})
	if err != nil {
		return fmt.Errorf("creating the %s encoder: %w", x.spec.Format, err)
	}
	o.enc = enc
	x.obj = o
	return nil
}
