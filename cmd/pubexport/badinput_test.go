package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/code"

	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink/gcstest"
	"pubexport/operations/store"
)

// The "Bad input" suite: every way a user, a caller of `serve` or a job's
// environment can get an export wrong, and every way the source or the
// destination can refuse it, must end in a clear error that carries the
// right gRPC code and names what to fix, with nothing written.
//
// Case inputs are templates; each case gets its own values for:
//
//	{dest}     a fresh, empty folder: the destination, which must stay free of exports
//	{store}    a fresh folder for an explicit operation store (Cloud Storage cases)
//	{emu}      the URL of an Apigee emulator (the case's own when it has an intercept)
//	{allowed}  the folder the restricted trigger server may write under
//	{escape}   file://{allowed}/../..(to {dest}): a path that climbs out of {allowed}

// Surfaces of a case.
const (
	surfaceCLI     = "cli"     // pubexport run ARGS, in-process
	surfaceTrigger = "trigger" // POST /v1/organizations/{org}/{resource}:export on `serve`
	surfaceJob     = "job"     // pubexport job with ENV
)

type badCase struct {
	name    string
	surface string
	// args follow "run" (cli).
	args []string
	// path and body are the trigger request; path defaults to the acme
	// developers export. policy sends it to the server that only allows
	// {allowed} instead of the one that allows any folder, so that the
	// policy's own refusals are what is tested.
	path, body string
	policy     bool
	// env is the job's environment; a value of "-" removes the variable
	// from the base environment.
	env map[string]string
	// intercept serves source faults: the case gets an emulator of its own
	// whose requests it sees first.
	intercept func(http.ResponseWriter, *http.Request) bool
	// code is the gRPC code name the error must carry. For cli and job, an
	// INVALID_ARGUMENT is a usage error: exit 2, printed as "ERROR: ..."
	// without the code (printError leaves codes off usage errors). Any
	// other code exits 1 and is printed.
	code string
	// field must appear in the message: the flag, field or variable to
	// fix, or the fix itself.
	field string
	// httpStatus overrides the status code's usual HTTP mapping (trigger).
	httpStatus int
	// violation, when set, is the field a google.rpc.BadRequest detail
	// of the answer must name (trigger: its JSON name, as the body
	// writes it).
	violation string
	// bucket (gs:// cases) must hold no object afterwards; with noBucket
	// it must not even exist.
	bucket   string
	noBucket bool
}

// cliSource is a run against the case's emulator exporting developers to
// {dest}, with extra flags.
func cliSource(extra ...string) []string {
	return append([]string{"--org", "acme", "--apigee-url", "{emu}", "--resource", "developers", "--to", "{dest}"}, extra...)
}

// jobBase is a job against the case's emulator exporting developers to
// {dest}; env overrides it ("-" removes a variable).
func jobBase(env map[string]string) map[string]string {
	out := map[string]string{
		"PUBEXPORT_ORG":         "acme",
		"PUBEXPORT_APIGEE_URL":  "{emu}",
		"PUBEXPORT_DESTINATION": "file://{dest}",
		"PUBEXPORT_RESOURCES":   "developers",
		// Progress lines are not under test.
		"PUBEXPORT_LOG_PROGRESS_EVERY": "0",
	}
	for k, v := range env {
		if v == "-" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// body is a trigger body: the fields given, as JSON.
func body(fields map[string]any) string {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Source faults, served by an emulator intercept.

// answerStatus answers every request with an Apigee-style error.
func answerStatus(httpStatus int, st, msg string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(httpStatus)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, httpStatus, msg, st)
		return true
	}
}

// developersPage answers the developer listing with raw bytes: the
// organization itself is the emulator's (acme), so the export gets as far
// as reading its first page.
func developersPage(raw func(r *http.Request) []byte) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/developers") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(raw(r))
		return true
	}
}

// stuckPage is a full page of developers that is the same whatever the
// startKey: a listing that never advances.
func stuckPage(r *http.Request) []byte {
	n, err := strconv.Atoi(r.URL.Query().Get("count"))
	if err != nil || n < 1 {
		n = 1000
	}
	var b strings.Builder
	b.WriteString(`{"developer":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"email":"dev%04d@example.com","firstName":"Dev","lastName":"%d","userName":"dev%d"}`, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func badCases() []badCase {
	dest := "file://{dest}"
	return []badCase{
		// ---- CLI flags: refused before anything starts (exit 2) ----
		{name: "cli/unknown format", surface: surfaceCLI, args: cliSource("--format", "xml"), code: "INVALID_ARGUMENT", field: "--format"},
		{name: "cli/unknown resource", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--resource", "users", "--to", "{dest}"}, code: "INVALID_ARGUMENT", field: "--resource"},
		{name: "cli/compression not for the format", surface: surfaceCLI, args: cliSource("--format", "json", "--compression", "zstd"), code: "INVALID_ARGUMENT", field: "--compression"},
		{name: "cli/bad delimiter", surface: surfaceCLI, args: cliSource("--format", "csv", "--csv-delimiter", ";"), code: "INVALID_ARGUMENT", field: "--csv-delimiter"},
		{name: "cli/csv option without csv", surface: surfaceCLI, args: cliSource("--format", "ndjson", "--guard-formulas"), code: "INVALID_ARGUMENT", field: "--guard-formulas"},
		{name: "cli/max-object-size garbage", surface: surfaceCLI, args: cliSource("--max-object-size", "64 parsecs"), code: "INVALID_ARGUMENT", field: "--max-object-size"},
		{name: "cli/max-object-size too small", surface: surfaceCLI, args: cliSource("--max-object-size", "1KiB"), code: "INVALID_ARGUMENT", field: "--max-object-size"},
		{name: "cli/bad apigee-url", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "ftp://apigee.example.com", "--to", "{dest}"}, code: "INVALID_ARGUMENT", field: "--apigee-url"},
		{name: "cli/org with bad characters", surface: surfaceCLI, args: []string{"--org", "acme/../other", "--apigee-url", "{emu}", "--to", "{dest}"}, code: "INVALID_ARGUMENT", field: "--org"},
		{name: "cli/org oversized", surface: surfaceCLI, args: []string{"--org", strings.Repeat("a", 64), "--apigee-url", "{emu}", "--to", "{dest}"}, code: "INVALID_ARGUMENT", field: "--org"},
		{name: "cli/missing org", surface: surfaceCLI, args: []string{"--apigee-url", "{emu}", "--to", "{dest}"}, code: "INVALID_ARGUMENT", field: "--org"},
		{name: "cli/missing to with org", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}"}, code: "INVALID_ARGUMENT", field: "--to"},
		{name: "cli/no bucket", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--to", "gs:///exports"}, code: "INVALID_ARGUMENT", field: "--to"},
		{name: "cli/bad bucket name", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--to", "gs://Acme_Exports!/x"}, code: "INVALID_ARGUMENT", field: "--to"},
		{name: "cli/path traversal in prefix", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--to", "gs://acme-exports/a/../b"}, code: "INVALID_ARGUMENT", field: "--to", bucket: "acme-exports"},
		{name: "cli/prefix oversized", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--to", "gs://acme-exports/" + strings.Repeat("p", 800)}, code: "INVALID_ARGUMENT", field: "--to", bucket: "acme-exports"},
		{name: "cli/invalid UTF-8 in destination", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--to", "gs://acme-exports/a\xffb"}, code: "INVALID_ARGUMENT", field: "--to", bucket: "acme-exports"},
		{name: "cli/unknown scheme", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--to", "s3://acme-exports/x"}, code: "INVALID_ARGUMENT", field: "--to"},

		// ---- CLI: source faults (exit 1, the operation fails) ----
		{name: "cli/wrong org", surface: surfaceCLI, args: []string{"--org", "nosuchorg", "--apigee-url", "{emu}", "--resource", "developers", "--to", "{dest}"}, code: "NOT_FOUND", field: "--org"},
		{name: "cli/apigee 403", surface: surfaceCLI, args: cliSource(), intercept: answerStatus(403, "PERMISSION_DENIED", "Permission denied on resource \"organizations/acme\""), code: "PERMISSION_DENIED", field: "roles/apigee.readOnlyAdmin"},
		{name: "cli/apigee 401", surface: surfaceCLI, args: cliSource(), intercept: answerStatus(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), code: "UNAUTHENTICATED", field: "refused a request without credentials"},
		{name: "cli/malformed JSON page", surface: surfaceCLI, args: cliSource(), intercept: developersPage(func(*http.Request) []byte {
			return []byte(`{"developer":[{"email":"ann@example.com","firstName":"Ann"},{"email":"bob@exa`)
		}), code: "DATA_LOSS", field: "malformed JSON"},
		{name: "cli/page never advances", surface: surfaceCLI, args: cliSource(), intercept: developersPage(stuckPage), code: "INTERNAL", field: "does not advance"},
		{name: "cli/invalid UTF-8 from the source", surface: surfaceCLI, args: cliSource(), intercept: developersPage(func(*http.Request) []byte {
			return []byte("{\"developer\":[{\"email\":\"ann@example.com\",\"firstName\":\"An\xffn\"}]}")
		}), code: "DATA_LOSS", field: "invalid UTF-8"},

		// ---- CLI: destination faults (Cloud Storage; exit 1) ----
		{name: "cli/missing bucket", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--resource", "developers", "--to", "gs://no-such-bucket/x", "--store", "file://{store}"}, code: "NOT_FOUND", field: "--to", bucket: "no-such-bucket", noBucket: true},
		{name: "cli/no permission on bucket", surface: surfaceCLI, args: []string{"--org", "acme", "--apigee-url", "{emu}", "--resource", "developers", "--to", "gs://acme-denied/x", "--store", "file://{store}"}, code: "PERMISSION_DENIED", field: "storage.objects.create", bucket: "acme-denied"},

		// ---- Trigger bodies: refused before an operation is recorded ----
		{name: "trigger/unknown field", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "formatt": "csv"}), code: "INVALID_ARGUMENT", field: "formatt"},
		{name: "trigger/wrong type", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "includeSecrets": "yes"}), code: "INVALID_ARGUMENT", field: "includeSecrets"},
		{name: "trigger/not JSON", surface: surfaceTrigger, body: `{"destination": "` + dest + `",`, code: "INVALID_ARGUMENT", field: "ExportRequest"},
		{name: "trigger/resource disagrees with path", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "resource": "apps"}), code: "INVALID_ARGUMENT", field: "resource"},
		{name: "trigger/parent disagrees with path", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "parent": "organizations/other"}), code: "INVALID_ARGUMENT", field: "parent"},
		{name: "trigger/body over 1 MiB", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "requestId": strings.Repeat("r", 1<<20)}), code: "INVALID_ARGUMENT", field: "larger than", httpStatus: http.StatusRequestEntityTooLarge},
		{name: "trigger/bad format", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "format": "xml"}), code: "INVALID_ARGUMENT", field: "format"},
		{name: "trigger/missing destination", surface: surfaceTrigger, body: body(map[string]any{"format": "csv"}), code: "INVALID_ARGUMENT", field: "destination"},
		{name: "trigger/invalid request_id", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "requestId": strings.Repeat("x", 129)}), code: "INVALID_ARGUMENT", field: "requestId: ", violation: "requestId"},
		{name: "trigger/unknown resource in path", surface: surfaceTrigger, path: "/v1/organizations/acme/users:export", body: body(map[string]any{"destination": dest}), code: "NOT_FOUND", field: "developers, apps or apiproducts"},
		{name: "trigger/bad org in path", surface: surfaceTrigger, path: "/v1/organizations/acme%20corp/developers:export", body: body(map[string]any{"destination": dest}), code: "INVALID_ARGUMENT", field: "parent"},
		{name: "trigger/path traversal in prefix", surface: surfaceTrigger, body: body(map[string]any{"destination": "gs://acme-exports/a/../b"}), code: "INVALID_ARGUMENT", field: "destination", bucket: "acme-exports"},
		{name: "trigger/csv options without csv", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "format": "json", "csv": map[string]any{"delimiter": "|"}}), code: "INVALID_ARGUMENT", field: "csv"},
		{name: "trigger/max_object_size too small", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "maxObjectSize": "1024"}), code: "INVALID_ARGUMENT", field: "maxObjectSize: ", violation: "maxObjectSize"},
		{name: "trigger/bad apigee_url", surface: surfaceTrigger, body: body(map[string]any{"destination": dest, "apigeeUrl": "ftp://apigee.example.com"}), code: "INVALID_ARGUMENT", field: "apigeeUrl: ", violation: "apigeeUrl"},
		// The trigger policy (serve --allow-*): PERMISSION_DENIED.
		{name: "trigger/policy destination outside", surface: surfaceTrigger, policy: true, body: body(map[string]any{"destination": dest, "apigeeUrl": "{emu}"}), code: "PERMISSION_DENIED", field: "--allow-destination", violation: "destination"},
		{name: "trigger/policy apigee_url not allowed", surface: surfaceTrigger, policy: true, body: body(map[string]any{"destination": "file://{allowed}/x", "apigeeUrl": "http://127.0.0.1:9"}), code: "PERMISSION_DENIED", field: "apigeeUrl: this server exports only from", violation: "apigeeUrl"},
		{name: "trigger/policy path traversal out of allowed", surface: surfaceTrigger, policy: true, body: body(map[string]any{"destination": "{escape}", "apigeeUrl": "{emu}"}), code: "PERMISSION_DENIED", field: "destination"},
		{name: "trigger/policy encoded traversal out of allowed", surface: surfaceTrigger, policy: true, body: body(map[string]any{"destination": "file://{allowed}/%2e%2e/x", "apigeeUrl": "{emu}"}), code: "PERMISSION_DENIED", field: "destination"},

		// ---- Job environment ----
		{name: "job/missing org", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_ORG": "-"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_ORG"},
		{name: "job/missing destination", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_DESTINATION": "-"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_DESTINATION"},
		{name: "job/bad format", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_FORMAT": "xml"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_FORMAT"},
		{name: "job/unknown resource", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_RESOURCES": "developers,users"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_RESOURCES"},
		{name: "job/task index >= count", surface: surfaceJob, env: jobBase(map[string]string{"CLOUD_RUN_TASK_COUNT": "3", "CLOUD_RUN_TASK_INDEX": "3"}), code: "INVALID_ARGUMENT", field: "CLOUD_RUN_TASK_INDEX"},
		{name: "job/task index negative", surface: surfaceJob, env: jobBase(map[string]string{"CLOUD_RUN_TASK_INDEX": "-1"}), code: "INVALID_ARGUMENT", field: "CLOUD_RUN_TASK_INDEX"},
		{name: "job/task index garbage", surface: surfaceJob, env: jobBase(map[string]string{"CLOUD_RUN_TASK_INDEX": "first"}), code: "INVALID_ARGUMENT", field: "CLOUD_RUN_TASK_INDEX"},
		{name: "job/bad include-secrets boolean", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_INCLUDE_SECRETS": "yes please"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_INCLUDE_SECRETS"},
		{name: "job/path traversal in destination", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_DESTINATION": "gs://acme-exports/a/../b"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_DESTINATION", bucket: "acme-exports"},
		{name: "job/org with bad characters", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_ORG": "acme corp"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_ORG"},
		{name: "job/max object size too small", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_MAX_OBJECT_SIZE": "1KiB"}), code: "INVALID_ARGUMENT", field: "PUBEXPORT_MAX_OBJECT_SIZE"},
		// The message names the organization as given; its hint says
		// "check --org" even in a job (see the report).
		{name: "job/wrong org", surface: surfaceJob, env: jobBase(map[string]string{"PUBEXPORT_ORG": "nosuchorg"}), code: "NOT_FOUND", field: `organization "nosuchorg" not found`},
		{name: "job/malformed JSON page", surface: surfaceJob, env: jobBase(nil), intercept: developersPage(func(*http.Request) []byte {
			return []byte(`{"developer":[{"email":"ann@example.com",`)
		}), code: "DATA_LOSS", field: "malformed JSON"},
	}
}

// TestBadInput runs the bad-input table (see badCases). STORAGE_EMULATOR_HOST
// in every command's environment (gcsEnv) points the Cloud Storage cases
// at an in-process fake-gcs-server.
func TestBadInput(t *testing.T) {
	t.Parallel()
	gcs := startGCS(t, "acme-exports", "acme-denied")
	// No permission to write in acme-denied: every upload there is 403.
	gcs.Use(gcstest.Deny(http.StatusForbidden, func(r *http.Request) bool {
		return gcstest.ObjectInserts(r) && strings.Contains(r.URL.Path, "/b/acme-denied/")
	}).Middleware)

	emu := startEmulator(t, emulator.Options{})
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	if err := os.Mkdir(allowed, 0o755); err != nil {
		t.Fatal(err)
	}
	// open lets triggers name the emulator and any folder, so that the
	// request's own errors are what it answers; policy allows one folder.
	openStore, policyStore := t.TempDir(), t.TempDir()
	openURL, _ := startServeEnv(t, gcsEnv(gcs, nil), "--store", "file://"+openStore, "--allow-apigee-url", emu.URL, "--allow-destination", "file://")
	policyURL, _ := startServeEnv(t, gcsEnv(gcs, nil), "--store", "file://"+policyStore, "--allow-apigee-url", emu.URL, "--allow-destination", "file://"+allowed)
	// A refused trigger records no operation. Registered after
	// startServe, so it runs (after every case) while the servers are up.
	t.Cleanup(func() {
		for _, dir := range []string{openStore, policyStore} {
			if ops := recordedOps(t, dir); len(ops) != 0 {
				t.Errorf("refused triggers recorded operations in %s: %v", dir, ops)
			}
		}
		if entries, _ := os.ReadDir(allowed); len(entries) != 0 {
			t.Errorf("refused triggers wrote under %s: %v", allowed, entries)
		}
	})

	count := map[string]int{}
	for _, c := range badCases() {
		count[c.surface]++
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dest, storeDir := t.TempDir(), t.TempDir()
			emuURL := emu.URL
			if c.intercept != nil {
				emuURL = startEmulator(t, emulator.Options{Intercept: c.intercept}).URL
			}
			rel, err := filepath.Rel(allowed, dest)
			if err != nil {
				t.Fatal(err)
			}
			expand := strings.NewReplacer(
				"{dest}", dest, "{store}", storeDir, "{emu}", emuURL, "{allowed}", allowed,
				"{escape}", "file://"+filepath.ToSlash(allowed+"/"+rel),
			).Replace

			switch c.surface {
			case surfaceCLI:
				args := []string{"run"}
				for _, a := range c.args {
					args = append(args, expand(a))
				}
				ta := newTestApp(gcsEnv(gcs, nil))
				code := ta.run(t.Context(), args...)
				checkCommand(t, c, code, ta.stdout.String(), ta.stderr.String())
			case surfaceJob:
				env := map[string]string{}
				for k, v := range c.env {
					env[k] = expand(v)
				}
				ta := newTestApp(gcsEnv(gcs, env))
				code := ta.run(t.Context(), "job")
				checkCommand(t, c, code, ta.stdout.String(), ta.stderr.String())
			case surfaceTrigger:
				base, path := openURL, c.path
				if c.policy {
					base = policyURL
				}
				if path == "" {
					path = "/v1/organizations/acme/developers:export"
				}
				checkTrigger(t, c, base, path, expand(c.body))
			default:
				t.Fatalf("unknown surface %q", c.surface)
			}

			// Nothing written: no export, no staging, no probe; at
			// most the operation store, and only for failures that
			// reached the operations layer.
			stores := []string{storeDir, filepath.Join(dest, ".pubexport", "operations")}
			reached := c.surface != surfaceTrigger && c.code != "INVALID_ARGUMENT"
			if left := writtenBesides(t, dest, stores[1]); len(left) != 0 {
				t.Errorf("written to the destination: %v", left)
			}
			if left := writtenBesides(t, storeDir, storeDir); len(left) != 0 {
				t.Errorf("written beside the store: %v", left)
			}
			var ops []*longrunningpb.Operation
			for _, s := range stores {
				ops = append(ops, recordedOps(t, s)...)
			}
			if !reached && len(ops) != 0 {
				t.Errorf("refused input recorded operations: %v", ops)
			}
			// Failures END: every recorded operation is done with the
			// error's code, none left NOT_STARTED or IN_PROGRESS.
			if reached && len(ops) == 0 {
				t.Errorf("the failed export left no operation in %v", stores)
			}
			for _, op := range ops {
				if !op.GetDone() || code.Code(op.GetError().GetCode()).String() != c.code {
					t.Errorf("operation %s: done=%v state %s error %v, want done with %s", op.GetName(), op.GetDone(), stateOf(op), op.GetError(), c.code)
				}
			}
			if c.bucket != "" {
				objs, exists := bucketObjects(gcs, c.bucket)
				switch {
				case c.noBucket && exists:
					t.Errorf("bucket %s was created", c.bucket)
				case len(objs) != 0:
					t.Errorf("bucket %s holds %v", c.bucket, objs)
				}
			}
		})
	}
	if count[surfaceCLI] < 20 || count[surfaceTrigger] < 12 || count[surfaceJob] < 10 {
		t.Errorf("cases per surface: %v", count)
	}
}

// checkCommand checks the exit code and the printed error of a cli or job
// case.
func checkCommand(t *testing.T, c badCase, exit int, stdout, stderr string) {
	t.Helper()
	for _, l := range strings.Split(stdout+stderr, "\n") {
		if strings.HasPrefix(l, "ERROR: ") || strings.Contains(l, `"message":"export failed"`) {
			t.Logf("exit %d: %s", exit, l)
		}
	}
	if c.code == "INVALID_ARGUMENT" {
		// A usage error: exit 2, "ERROR: <message naming the field>",
		// printed before anything started.
		if exit != exitUsage {
			t.Errorf("exit %d, want %d (usage)\nstdout:\n%s\nstderr:\n%s", exit, exitUsage, stdout, stderr)
			return
		}
		if !strings.HasPrefix(stderr, "ERROR: ") || !strings.Contains(errorLine(stderr), c.field) {
			t.Errorf("stderr does not start with an ERROR naming %s:\n%s", c.field, stderr)
		}
		if strings.Contains(stderr, "Started ") || strings.Contains(stdout, "export running") {
			t.Errorf("an export started before the input was refused:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		return
	}
	if exit != exitFailed {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", exit, exitFailed, stdout, stderr)
		return
	}
	switch c.surface {
	case surfaceCLI:
		// ERROR: (CODE) ... the operation's message ... (code N CODE)
		if !strings.Contains(stderr, "ERROR: ("+c.code+") ") || !strings.Contains(stderr, c.field) {
			t.Errorf("stderr lacks (%s) and %q:\n%s", c.code, c.field, stderr)
		}
	case surfaceJob:
		// The job logs the failure as a Cloud Logging line with the code.
		found := false
		for _, l := range logLines(t, stdout) {
			if l["message"] == "export failed" {
				msg, _ := l["error"].(string)
				found = l["code"] == c.code && l["severity"] == "ERROR" && strings.Contains(msg, c.field)
			}
		}
		if !found {
			t.Errorf("no 'export failed' line with code %s naming %q:\n%s", c.code, c.field, stdout)
		}
		if !strings.HasPrefix(stderr, "ERROR: ") {
			t.Errorf("stderr: %s", stderr)
		}
	}
}

// checkTrigger posts body to url and checks the answer: an HTTP error
// status, Google's JSON error shape, the code and the field.
func checkTrigger(t *testing.T, c badCase, base, path, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		// Accepted: let the export end, so that what it wrote is
		// reported by the caller instead of racing the test's cleanup.
		var op struct{ Name string }
		json.Unmarshal(raw, &op)
		t.Errorf("the trigger was accepted: %s", raw)
		if op.Name != "" {
			waitFor(t, "the accepted export to end", func() bool {
				r, err := http.Get(base + "/v1/" + op.Name)
				if err != nil {
					return false
				}
				defer r.Body.Close()
				var got struct{ Done bool }
				return json.NewDecoder(r.Body).Decode(&got) == nil && got.Done
			})
		}
		return
	}
	want := c.httpStatus
	if want == 0 {
		want = map[string]int{"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "PERMISSION_DENIED": 403}[c.code]
	}
	if resp.StatusCode != want {
		t.Errorf("HTTP %d, want %d\n%s", resp.StatusCode, want, raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var e struct {
		Error *struct {
			Code    *int    `json:"code"`
			Message *string `json:"message"`
			Status  *string `json:"status"`
			Details []struct {
				Type            string `json:"@type"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil || e.Error.Code == nil || e.Error.Message == nil || e.Error.Status == nil {
		t.Errorf("not a Google error {\"error\":{\"code\",\"message\",\"status\"}}: %v\n%s", err, raw)
		return
	}
	t.Logf("HTTP %d %s: %s", resp.StatusCode, *e.Error.Status, *e.Error.Message)
	if *e.Error.Code != resp.StatusCode || *e.Error.Status != c.code || !strings.Contains(*e.Error.Message, c.field) {
		t.Errorf("error %d %s %q, want %d %s naming %q", *e.Error.Code, *e.Error.Status, *e.Error.Message, resp.StatusCode, c.code, c.field)
	}
	if c.violation != "" {
		var fields []string
		for _, d := range e.Error.Details {
			if d.Type == "type.googleapis.com/google.rpc.BadRequest" {
				for _, v := range d.FieldViolations {
					fields = append(fields, v.Field)
				}
			}
		}
		if len(fields) != 1 || fields[0] != c.violation {
			t.Errorf("BadRequest field violations %q, want %q\n%s", fields, c.violation, raw)
		}
	}
}

// errorLine is the first line of s, in full.
func errorLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// writtenBesides lists the files under dir that are not under keep (the
// operation store, which a failed export rightly writes its record to).
func writtenBesides(t *testing.T, dir, keep string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == keep || strings.HasPrefix(p, keep+string(filepath.Separator)) {
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// recordedOps reads the operations recorded in the local store dir,
// without creating it.
func recordedOps(t *testing.T, dir string) []*longrunningpb.Operation {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	st, err := store.Local(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, err := st.List(t.Context(), "")
	if err != nil {
		t.Fatalf("listing the store %s: %v", dir, err)
	}
	var ops []*longrunningpb.Operation
	for _, n := range names {
		rec, _, err := st.Get(t.Context(), n)
		if err != nil {
			t.Fatalf("reading %s: %v", n, err)
		}
		op := new(longrunningpb.Operation)
		if err := rec.GetOperation().UnmarshalTo(op); err != nil {
			t.Fatalf("record %s: %v", n, err)
		}
		ops = append(ops, op)
	}
	return ops
}

// bucketObjects lists a bucket of the fake Cloud Storage; exists is false
// when there is no such bucket.
func bucketObjects(s *gcstest.Server, bucket string) (names []string, exists bool) {
	if _, err := s.Fake.Backend().GetBucket(bucket); err != nil {
		return nil, false
	}
	objs, err := s.Fake.Backend().ListObjects(bucket, "", false)
	if err != nil {
		return []string{"(cannot list: " + err.Error() + ")"}, true
	}
	for _, o := range objs {
		names = append(names, o.Name)
	}
	return names, true
}

// TestBadInputAccepted holds the inputs of the bad-input suite whose right
// answer is success: an export, written in full.
func TestBadInputAccepted(t *testing.T) {
	t.Parallel()

	// An empty organization exports one valid, empty file per resource
	// (and a manifest saying 0 records): "nothing there" is an answer.
	t.Run("empty organization", func(t *testing.T) {
		t.Parallel()
		emu := exporttest.Emulator(t, emulator.Generate(emulator.GenerateSpec{Org: "hollow"}), emulator.Options{})
		dest := t.TempDir()
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "run", "--org", "hollow", "--apigee-url", emu.URL, "--to", dest); code != 0 {
			t.Fatalf("exit %d\n%s", code, ta.stderr)
		}
		// The three empty exports have the same content, so they share
		// one content-addressed ExportFinal_ object; each has its manifest.
		finals, manifests := exportFiles(t, dest)
		if len(finals) != 1 || len(manifests) != 3 {
			t.Fatalf("exports %v, manifests %v", finals, manifests)
		}
		var recs []json.RawMessage
		if b, err := os.ReadFile(finals[0]); err != nil || json.Unmarshal(b, &recs) != nil || recs == nil || len(recs) != 0 {
			t.Errorf("%s is not an empty JSON array: %q %v", finals[0], b, err)
		}
		resources := map[string]bool{}
		for _, m := range manifests {
			var man struct {
				Resource string
				Records  *int64
				Objects  []struct{ Name string }
			}
			b, err := os.ReadFile(m)
			if err != nil || json.Unmarshal(b, &man) != nil || man.Records == nil || *man.Records != 0 ||
				len(man.Objects) != 1 || man.Objects[0].Name != filepath.Base(finals[0]) {
				t.Errorf("manifest %s does not describe 0 records in %s: %s", m, filepath.Base(finals[0]), b)
			}
			resources[man.Resource] = true
		}
		if len(resources) != 3 {
			t.Errorf("manifests for %v, want the three resources", resources)
		}
		if left := stagingLeft(t, dest); len(left) != 0 {
			t.Errorf("staging left: %v", left)
		}
	})

	// A 5 MiB attribute value is far beyond what Apigee lets one set, but
	// it is valid JSON and the exporter's job is to copy the source
	// faithfully: it is exported whole, not truncated or refused.
	t.Run("oversized value", func(t *testing.T) {
		t.Parallel()
		bigValue := strings.Repeat("v", 5<<20)
		emu := startEmulator(t, emulator.Options{Intercept: developersPage(func(*http.Request) []byte {
			return []byte(`{"developer":[{"email":"big@example.com","firstName":"Big","lastName":"Value","userName":"big",` +
				`"attributes":[{"name":"blob","value":"` + bigValue + `"}]}]}`)
		})})
		dest := t.TempDir()
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "developers", "--format", "ndjson", "--to", dest); code != 0 {
			t.Fatalf("exit %d\n%s", code, ta.stderr)
		}
		finals, _ := exportFiles(t, dest)
		if len(finals) != 1 {
			t.Fatalf("exports %v", finals)
		}
		b, err := os.ReadFile(finals[0])
		if err != nil {
			t.Fatal(err)
		}
		var dev struct {
			Email      string `json:"email"`
			Attributes []struct{ Name, Value string }
		}
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &dev) != nil {
			t.Fatalf("want one NDJSON record, got %d bytes", len(b))
		}
		if dev.Email != "big@example.com" || len(dev.Attributes) != 1 || dev.Attributes[0].Value != bigValue {
			t.Errorf("the 5 MiB value was not exported whole: %s, %d attributes", dev.Email, len(dev.Attributes))
		}
	})

	// A local --to with ".." is an ordinary path (`--to ../exports`): the
	// user of the CLI owns the disk, so it is resolved, not refused. (A
	// trigger of `serve` is another matter: see the policy cases.)
	t.Run("dot-dot in a local path", func(t *testing.T) {
		t.Parallel()
		emu := startEmulator(t, emulator.Options{})
		dest := t.TempDir()
		ta := newTestApp(nil)
		if code := ta.run(t.Context(), "run", "--org", "acme", "--apigee-url", emu.URL, "--resource", "apiproducts",
			"--to", "file://"+filepath.ToSlash(dest)+"/sub/../out"); code != 0 {
			t.Fatalf("exit %d\n%s", code, ta.stderr)
		}
		if finals, _ := exportFiles(t, filepath.Join(dest, "out")); len(finals) != 1 {
			t.Errorf("exports in %s/out: %v", dest, finals)
		}
		if _, err := os.Stat(filepath.Join(dest, "sub")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s/sub was created: %v", dest, err)
		}
	})
}
