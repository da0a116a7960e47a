package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/formats"
	"pubexport/formats/field"
)

// env is one export test's real parts: the Apigee emulator on loopback and a
// destination.
type env struct {
	t    *testing.T
	data *emulator.Data
	emu  *emulator.Server
	src  export.Source
}

func newEnv(t *testing.T, spec emulator.GenerateSpec, opts emulator.Options) *env {
	t.Helper()
	if spec.Org == "" {
		spec.Org = "acme"
	}
	data := emulator.Generate(spec)
	emu := exporttest.Emulator(t, data, opts)
	c := exporttest.ApigeeClient(t, emu,
		apigee.WithRetry(8, 1e6, 2e7))
	return &env{t: t, data: data, emu: emu, src: export.FromClient(c)}
}

func (e *env) spec(r apigee.Resource, f formats.Format, dest string) export.Spec {
	return export.Spec{Org: "acme", Resource: r, Format: f, Destination: dest, ApigeeURL: e.emu.URL}
}

func openLocal(t *testing.T, dir string) sink.Bucket {
	t.Helper()
	b, err := sink.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func (e *env) run(ctx context.Context, b sink.Bucket, spec export.Spec, mod func(*export.Runner)) (*export.Result, error) {
	r := &export.Runner{Source: e.src, Bucket: b}
	if mod != nil {
		mod(r)
	}
	return r.Run(ctx, spec)
}

// files lists a folder's regular files by relative name, staging included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var sizes = emulator.GenerateSpec{Developers: 1203, Apps: 1501, APIProducts: 77, Seed: 7}

func TestEveryResourceAndFormatToLocalFolder(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, sizes, emulator.Options{})
	org := e.data.Orgs[0]
	want := map[apigee.Resource]int{apigee.Developers: len(org.Developers), apigee.Apps: len(org.Apps), apigee.APIProducts: len(org.APIProducts)}
	for _, r := range []apigee.Resource{apigee.Developers, apigee.Apps, apigee.APIProducts} {
		for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.CSV, formats.Parquet} {
			t.Run(string(r)+"/"+string(f), func(t *testing.T) {
				dir := t.TempDir()
				res, err := e.run(context.Background(), openLocal(t, dir), e.spec(r, f, "file://"+dir), nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Records != int64(want[r]) || len(res.Objects) != 1 {
					t.Fatalf("records %d objects %d, want %d records in 1 object", res.Records, len(res.Objects), want[r])
				}
				o := res.Objects[0]
				body, err := os.ReadFile(filepath.Join(dir, o.Name))
				if err != nil {
					t.Fatal(err)
				}
				if got := sha(body); got != o.SHA256 || !strings.HasPrefix(o.Name, "ExportFinal_"+got+".") {
					t.Fatalf("object %s has sha256 %s", o.Name, got)
				}
				if int64(len(body)) != o.Size {
					t.Fatalf("size %d, manifest says %d", len(body), o.Size)
				}
				if got := withoutSchema(t, f, files(t, dir)); len(got) != 2 || !strings.HasPrefix(got[0], "ExportFinal_") || !strings.HasPrefix(got[1], "ExportManifest_") {
					t.Fatalf("folder holds %v, want one final and one manifest, no staging", got)
				}
				var m export.Manifest
				mb, _ := os.ReadFile(filepath.Join(dir, res.Manifest.Name))
				if err := json.Unmarshal(mb, &m); err != nil {
					t.Fatal(err)
				}
				if m.Records != res.Records || m.Organization != "acme" || m.Resource != string(r) || len(m.Objects) != 1 || m.Objects[0].SHA256 != o.SHA256 || m.SecretsIncluded || len(m.Schema) == 0 {
					t.Fatalf("manifest %+v does not describe the export", m)
				}
				if f == formats.JSON {
					checkJSONRecords(t, r, body, org)
				}
			})
		}
	}
}

// checkJSONRecords decodes a JSON export with protojson and compares it with
// the emulator's data, secrets redacted.
func checkJSONRecords(t *testing.T, r apigee.Resource, body []byte, org *emulator.Org) {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	want := sourceRecords(r, org)
	if len(raw) != len(want) {
		t.Fatalf("%d records, want %d", len(raw), len(want))
	}
	byKey := map[string]proto.Message{}
	for _, w := range want {
		byKey[r.Key(w)] = w
	}
	for i, b := range raw {
		m := r.Descriptor()
		got := r.New()
		if err := protojson.Unmarshal(b, got); err != nil {
			t.Fatalf("record %d of %s: %v", i, m.FullName(), err)
		}
		w, ok := byKey[r.Key(got)]
		if !ok || !proto.Equal(got, w) {
			t.Fatalf("record %d (%s) differs from the source", i, r.Key(got))
		}
	}
}

func TestRerunGivesTheSameObject(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, sizes, emulator.Options{})
	dir := t.TempDir()
	b := openLocal(t, dir)
	spec := e.spec(apigee.Apps, formats.NDJSON, "file://"+dir)
	spec.Compression = formats.Compression("gzip")
	first, err := e.run(context.Background(), b, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.run(context.Background(), b, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Objects[0].Name != second.Objects[0].Name || !second.Objects[0].Existed || first.Objects[0].Existed {
		t.Fatalf("first %+v, second %+v: want the same name, the second marked as existing", first.Objects[0], second.Objects[0])
	}
	zr, err := gzip.NewReader(mustOpen(t, filepath.Join(dir, first.Objects[0].Name)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(plain, []byte("\n")); n != len(e.data.Orgs[0].Apps) {
		t.Fatalf("%d lines after gunzip, want %d", n, len(e.data.Orgs[0].Apps))
	}
}

func mustOpen(t *testing.T, p string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func TestSecretsRedactedUnlessAsked(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 20, Apps: 30, APIProducts: 5, Seed: 3}, emulator.Options{})
	var secret string
	for _, a := range e.data.Orgs[0].Apps {
		for _, c := range a.Credentials {
			if c.GetConsumerSecret() != "" {
				secret = c.GetConsumerSecret()
			}
		}
	}
	if secret == "" {
		t.Fatal("the generated apps carry no consumer secret")
	}
	for _, include := range []bool{false, true} {
		for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.Parquet} {
			dir := t.TempDir()
			spec := e.spec(apigee.Apps, f, "file://"+dir)
			spec.IncludeSecrets = include
			res, err := e.run(context.Background(), openLocal(t, dir), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := os.ReadFile(filepath.Join(dir, res.Objects[0].Name))
			if got := holds(t, f, body, secret); got != include {
				t.Errorf("%s include=%v: secret present = %v", f, include, got)
			}
			if res.SecretsIncluded != include {
				t.Errorf("result says secrets included = %v", res.SecretsIncluded)
			}
		}
	}
}

// holds reports whether an exported object holds s: in its bytes, or for
// Parquet, whose pages are compressed, in one of its decoded values.
func holds(t *testing.T, f formats.Format, body []byte, s string) bool {
	t.Helper()
	if f != formats.Parquet {
		return bytes.Contains(body, []byte(s))
	}
	pf, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("reading the Parquet object: %v", err)
	}
	buf := make([]parquet.Row, 64)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				for _, v := range row {
					if v.Kind() == parquet.ByteArray && bytes.Contains(v.ByteArray(), []byte(s)) {
						rows.Close()
						return true
					}
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("reading the Parquet rows: %v", err)
			}
		}
		rows.Close()
	}
	return false
}

func TestMaxObjectSizeSplits(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, emulator.GenerateSpec{Developers: 10, Apps: 4001, APIProducts: 5, Seed: 5}, emulator.Options{})
	for _, f := range []formats.Format{formats.JSON, formats.NDJSON} {
		dir := t.TempDir()
		spec := e.spec(apigee.Apps, f, "file://"+dir)
		spec.MaxObjectSize = export.MinObjectSize
		res, err := e.run(context.Background(), openLocal(t, dir), spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Objects) < 2 {
			t.Fatalf("%s: %d objects, want a split", f, len(res.Objects))
		}
		var total int64
		for _, o := range res.Objects {
			body, _ := os.ReadFile(filepath.Join(dir, o.Name))
			if sha(body) != o.SHA256 {
				t.Fatalf("%s: %s does not hash to its name", f, o.Name)
			}
			if f == formats.JSON {
				var recs []json.RawMessage
				if err := json.Unmarshal(body, &recs); err != nil {
					t.Fatalf("%s is not a JSON array of its own: %v", o.Name, err)
				}
				if int64(len(recs)) != o.Records {
					t.Fatalf("%s holds %d records, result says %d", o.Name, len(recs), o.Records)
				}
			}
			total += o.Records
		}
		if total != int64(len(e.data.Orgs[0].Apps)) {
			t.Fatalf("%s: %d records over the objects, want %d", f, total, len(e.data.Orgs[0].Apps))
		}
	}
}

func TestEmptyOrganization(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Seed: 1}, emulator.Options{})
	dir := t.TempDir()
	res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Developers, formats.JSON, "file://"+dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile(filepath.Join(dir, res.Objects[0].Name))
	if res.Records != 0 || string(body) != "[]\n" {
		t.Fatalf("records %d, body %q; want an empty JSON array", res.Records, body)
	}
}

// TestResumeAfterSuspend stops a run after a checkpoint, as a SIGTERM or a
// crash would, and resumes it from that checkpoint: the object must be the
// one a clean run writes.
func TestResumeAfterSuspend(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	e := newEnv(t, emulator.GenerateSpec{Developers: 6100, Apps: 10, APIProducts: 5, Seed: 9}, emulator.Options{})
	for _, c := range []struct {
		f formats.Format
		z string
	}{{formats.JSON, ""}, {formats.CSV, "gzip"}, {formats.NDJSON, "gzip"}, {formats.Parquet, ""}} {
		t.Run(string(c.f)+c.z, func(t *testing.T) {
			cleanDir := t.TempDir()
			spec := e.spec(apigee.Developers, c.f, "file://"+cleanDir)
			spec.Compression = formats.Compression(c.z)
			clean, err := e.run(context.Background(), openLocal(t, cleanDir), spec, func(r *export.Runner) { r.CheckpointEvery = 2 })
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			spec.Destination = "file://" + dir
			b := openLocal(t, dir)
			ctx, cancel := context.WithCancelCause(context.Background())
			var mu sync.Mutex
			var last *export.Checkpoint
			_, err = e.run(ctx, b, spec, func(r *export.Runner) {
				r.CheckpointEvery = 2
				r.StagingID = "op-1"
				r.OnCheckpoint = func(_ context.Context, cp *export.Checkpoint) error {
					mu.Lock()
					defer mu.Unlock()
					last = cp
					if cp.Pages >= 4 {
						cancel(export.ErrSuspend)
					}
					return nil
				}
				r.OnProgress = func(p export.Progress) {
					if p.Pages >= 4 && !c.f.Resumable() {
						cancel(export.ErrSuspend)
					}
				}
			})
			if status.Code(err) != codes.Aborted {
				t.Fatalf("suspended run returned %v, want ABORTED", err)
			}
			for _, f := range files(t, dir) {
				if strings.HasPrefix(f, "ExportFinal_") {
					t.Fatalf("a suspended run published %s", f)
				}
			}
			// A format that cannot be continued is rerun from the start
			// under the same staging id, which must clear the leftovers.
			var resumeFrom *export.Checkpoint
			if c.f.Resumable() {
				if last == nil || len(last.Parts) == 0 {
					t.Fatalf("no checkpoint with staging parts: %+v", last)
				}
				resumeFrom = last
			} else {
				// Parquet buffers a row group before writing: leave a part
				// behind as a crashed attempt would have.
				w, err := b.NewWriter(context.Background(), export.StagingPrefix+"op-1/object-0000-part-00000", sink.Attrs{})
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte("PAR1 half a file"))
				if _, err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			resumed, err := e.run(context.Background(), b, spec, func(r *export.Runner) {
				r.CheckpointEvery = 2
				r.StagingID = "op-1"
				r.Resume = resumeFrom
			})
			if err != nil {
				t.Fatal(err)
			}
			resumedLikeClean(t, resumed, clean, dir)
		})
	}
}

// resumedLikeClean fails t unless a resumed run published what a clean run
// did, with the same record count, and left no staging in dir.
func resumedLikeClean(t *testing.T, resumed, clean *export.Result, dir string) {
	t.Helper()
	if resumed.Objects[0].Name != clean.Objects[0].Name || resumed.Records != clean.Records {
		t.Fatalf("resumed run wrote %s (%d records), a clean run %s (%d)", resumed.Objects[0].Name, resumed.Records, clean.Objects[0].Name, clean.Records)
	}
	for _, f := range files(t, dir) {
		if strings.HasPrefix(f, export.StagingPrefix) {
			t.Fatalf("staging left behind: %s", f)
		}
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 5000, Apps: 10, APIProducts: 5, Seed: 2}, emulator.Options{})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := e.run(ctx, openLocal(t, dir), e.spec(apigee.Developers, formats.JSON, "file://"+dir), func(r *export.Runner) {
		r.CheckpointEvery = 1
		r.OnProgress = func(p export.Progress) {
			if p.Pages == 2 {
				cancel()
			}
		}
	})
	if status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled run returned %v (code %v), want CANCELLED", err, status.Code(err))
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("a cancelled run left %v", got)
	}
}

func TestBadSpecWritesNothing(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 3, Seed: 1}, emulator.Options{})
	dir := t.TempDir()
	b := openLocal(t, dir)
	good := e.spec(apigee.Developers, formats.JSON, "file://"+dir)
	cases := []struct {
		name  string
		mod   func(*export.Spec)
		code  codes.Code
		field string
	}{
		{"missing org", func(s *export.Spec) { s.Org = "" }, codes.InvalidArgument, field.Organization},
		{"bad org", func(s *export.Spec) { s.Org = "acme/../x" }, codes.InvalidArgument, field.Organization},
		{"unknown org", func(s *export.Spec) { s.Org = "nobody" }, codes.NotFound, field.Organization},
		{"unknown resource", func(s *export.Spec) { s.Resource = "companies" }, codes.InvalidArgument, field.Resource},
		{"unknown format", func(s *export.Spec) { s.Format = "xml" }, codes.InvalidArgument, field.Format},
		{"gzip parquet? snappy json", func(s *export.Spec) { s.Compression = "snappy" }, codes.InvalidArgument, field.Compression},
		{"csv options on json", func(s *export.Spec) { s.CSV.NoHeader = true }, codes.InvalidArgument, field.CSVOptions},
		{"tiny max size", func(s *export.Spec) { s.MaxObjectSize = 10 }, codes.InvalidArgument, field.MaxObjectSize},
		{"bad apigee url", func(s *export.Spec) { s.ApigeeURL = "ftp://x" }, codes.InvalidArgument, field.ApigeeURL},
		{"no destination", func(s *export.Spec) { s.Destination = "" }, codes.InvalidArgument, field.Destination},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := good
			c.mod(&spec)
			_, err := e.run(context.Background(), b, spec, nil)
			// The error names the value as a *field.Error (each front
			// door says which flag, variable or request field set it).
			var fe *field.Error
			if status.Code(err) != c.code || !errors.As(err, &fe) || fe.Field != c.field || !strings.HasPrefix(err.Error(), c.field+": ") && !strings.Contains(err.Error(), ": "+c.field+": ") {
				t.Fatalf("got %v (code %v), want %v naming %q", err, status.Code(err), c.code, c.field)
			}
			if got := files(t, dir); len(got) != 0 {
				t.Fatalf("a refused export wrote %v", got)
			}
		})
	}
}

func TestProgressAndPreviousTotal(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 2500, Apps: 10, APIProducts: 5, Seed: 4}, emulator.Options{})
	dir := t.TempDir()
	b := openLocal(t, dir)
	spec := e.spec(apigee.Developers, formats.CSV, "file://"+dir)
	var seen []export.Progress
	record := func(r *export.Runner) { r.OnProgress = func(p export.Progress) { seen = append(seen, p) } }
	if _, err := e.run(context.Background(), b, spec, record); err != nil {
		t.Fatal(err)
	}
	if len(seen) < 3 || seen[0].Total != -1 {
		t.Fatalf("first export progress %+v: want several events and no total", seen)
	}
	if _, ok := seen[0].Percent(); ok {
		t.Fatal("a percentage was shown without a total")
	}
	seen = nil
	if _, err := e.run(context.Background(), b, spec, record); err != nil {
		t.Fatal(err)
	}
	lastP := seen[len(seen)-1]
	if lastP.Total != 2500 || lastP.Records != 2500 || lastP.Objects != 1 {
		t.Fatalf("second export last progress %+v: want total 2500 from the previous manifest", lastP)
	}
	if pct, ok := lastP.Percent(); !ok || pct != 100 {
		t.Fatalf("percent %d %v", pct, ok)
	}
}

// TestSourceFailureMidRunCleansUp breaks the source on the third page with a
// malformed body: the run fails with the page named and leaves no file.
func TestSourceFailureMidRunCleansUp(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 3500, Seed: 1})
	var calls atomic.Int64
	emu := exporttest.Emulator(t, data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/developers") && calls.Add(1) == 3 {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"developer":[{"email":"x@example.com",`)
			return true
		}
		return false
	}})
	c := exporttest.ApigeeClient(t, emu)
	dir := t.TempDir()
	r := &export.Runner{Source: export.FromClient(c), Bucket: openLocal(t, dir), CheckpointEvery: 1}
	_, err := r.Run(context.Background(), export.Spec{Org: "acme", Resource: apigee.Developers, Format: formats.JSON, Destination: "file://" + dir})
	if err == nil || !strings.Contains(err.Error(), "page 3") {
		t.Fatalf("got %v, want an error naming page 3", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("a failed run left %v", got)
	}
}
