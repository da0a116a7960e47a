package main

import (
	"strings"
	"syscall"
	"testing"

	"pubexport/cmd/pubexport/internal/cmdlog"
	"pubexport/export/apigee/emulator"
)

// jobEnv is a job's environment against emulator emu, writing to dir.
func jobEnv(emu *emulator.Server, dir string, extra map[string]string) map[string]string {
	env := map[string]string{
		"PUBEXPORT_ORG":         "acme",
		"PUBEXPORT_APIGEE_URL":  emu.URL,
		"PUBEXPORT_DESTINATION": "file://" + dir,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// opLabels checks that stdout is Cloud Logging JSON and returns the
// operation ids of the lines that carry a label.
func opLabels(t *testing.T, stdout string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, l := range logLines(t, stdout) {
		if _, ok := l["severity"].(string); !ok {
			t.Errorf("line without severity: %v", l)
		}
		if _, ok := l["message"].(string); !ok {
			t.Errorf("line without message: %v", l)
		}
		if _, ok := l["time"].(string); !ok {
			t.Errorf("line without time: %v", l)
		}
		if lab, ok := l[cmdlog.OperationKey].(map[string]any); ok {
			if lab["producer"] != "pubexport" {
				t.Errorf("label producer: %v", lab)
			}
			ids[lab["id"].(string)]++
		}
	}
	return ids
}

func TestJob(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	ta := newTestApp(jobEnv(emu, dir, map[string]string{"PUBEXPORT_FORMAT": "ndjson"}))
	if code := ta.run(t.Context(), "job"); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, ta.stdout, ta.stderr)
	}
	finals, manifests := exportFiles(t, dir)
	if len(finals) != 3 || len(manifests) != 3 {
		t.Fatalf("exports: %v %v", finals, manifests)
	}
	ids := opLabels(t, ta.stdout.String())
	if len(ids) != 3 {
		t.Fatalf("want lines labelled with 3 operations, got %v\n%s", ids, ta.stdout)
	}
	finished := 0
	for _, l := range logLines(t, ta.stdout.String()) {
		if l["message"] == "export finished" {
			finished++
			if l["severity"] != "INFO" || l[cmdlog.OperationKey] == nil {
				t.Errorf("finish line: %v", l)
			}
			if objs, _ := l["objects"].([]any); len(objs) != 1 || !strings.Contains(objs[0].(string), "ExportFinal_") {
				t.Errorf("finish line objects: %v", l["objects"])
			}
		}
	}
	if finished != 3 {
		t.Errorf("%d 'export finished' lines", finished)
	}
}

// TestJobTasks: three tasks of one execution export one resource each; a
// retried task gets back its operation instead of starting another.
func TestJobTasks(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulator.Options{})
	dir := t.TempDir()
	names := map[string]bool{}
	for i, want := range []string{"developers", "apps", "apiproducts"} {
		ta := newTestApp(jobEnv(emu, dir, map[string]string{
			"CLOUD_RUN_EXECUTION":  "pubexport-x7k2p",
			"CLOUD_RUN_TASK_COUNT": "3",
			"CLOUD_RUN_TASK_INDEX": string(rune('0' + i)),
		}))
		if code := ta.run(t.Context(), "job"); code != 0 {
			t.Fatalf("task %d: exit %d\n%s", i, code, ta.stdout)
		}
		ids := opLabels(t, ta.stdout.String())
		if len(ids) != 1 {
			t.Fatalf("task %d ran %d operations: %v", i, len(ids), ids)
		}
		for id := range ids {
			names[id] = true
		}
		if !strings.Contains(ta.stdout.String(), `"resource":"`+want+`"`) {
			t.Errorf("task %d did not export %s:\n%s", i, want, ta.stdout)
		}
	}
	if len(names) != 3 {
		t.Errorf("operations: %v", names)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 3 {
		t.Errorf("exports: %v", finals)
	}

	// Attempt 1 of task 1 finds attempt 0's operation (done): same name,
	// no second export.
	ta := newTestApp(jobEnv(emu, dir, map[string]string{
		"CLOUD_RUN_EXECUTION":    "pubexport-x7k2p",
		"CLOUD_RUN_TASK_COUNT":   "3",
		"CLOUD_RUN_TASK_INDEX":   "1",
		"CLOUD_RUN_TASK_ATTEMPT": "1",
	}))
	if code := ta.run(t.Context(), "job"); code != 0 {
		t.Fatalf("retry: exit %d\n%s", code, ta.stdout)
	}
	for id := range opLabels(t, ta.stdout.String()) {
		if !names[id] {
			t.Errorf("retry ran a new operation %s instead of one of %v", id, names)
		}
	}
	// A task beyond the resources has nothing to do.
	ta = newTestApp(jobEnv(emu, dir, map[string]string{"CLOUD_RUN_TASK_COUNT": "4", "CLOUD_RUN_TASK_INDEX": "3"}))
	if code := ta.run(t.Context(), "job"); code != 0 || !strings.Contains(ta.stdout.String(), "nothing to do") {
		t.Errorf("idle task: exit %d\n%s", code, ta.stdout)
	}
}

func TestJobBadEnv(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "PUBEXPORT_ORG"},
		{map[string]string{"PUBEXPORT_ORG": "acme"}, "PUBEXPORT_DESTINATION"},
		{map[string]string{"PUBEXPORT_ORG": "acme", "PUBEXPORT_DESTINATION": "gs://b-x/p", "PUBEXPORT_FORMAT": "xml"}, "PUBEXPORT_FORMAT"},
		{map[string]string{"PUBEXPORT_ORG": "acme", "PUBEXPORT_DESTINATION": "gs://Bad_Bucket/p"}, "PUBEXPORT_DESTINATION"},
		{map[string]string{"PUBEXPORT_ORG": "acme", "PUBEXPORT_DESTINATION": "gs://b-x/p", "CLOUD_RUN_TASK_INDEX": "5"}, "CLOUD_RUN_TASK_INDEX"},
		{map[string]string{"PUBEXPORT_OPERATION": "organizations/acme/operations/1"}, "PUBEXPORT_STORE"},
	} {
		ta := newTestApp(c.env)
		if code := ta.run(t.Context(), "job"); code != exitUsage || !strings.Contains(ta.stderr.String(), c.want) {
			t.Errorf("env %v: exit %d, stderr:\n%s", c.env, code, ta.stderr)
		}
	}
}

// TestJobSIGTERMAndRetry: SIGTERM suspends the export (checkpoint kept) and
// the task exits non-zero so that Cloud Run retries it; the retry (same
// execution, next attempt) resumes the same operation and finishes it.
func TestJobSIGTERMAndRetry(t *testing.T) {
	t.Parallel()
	emu, blocking, started := stallableEmulator(t)
	blocking.Store(true)
	dir := t.TempDir()
	env := jobEnv(emu, dir, map[string]string{"PUBEXPORT_RESOURCES": "apps", "CLOUD_RUN_EXECUTION": "pubexport-r2d2x",
		"PUBEXPORT_LOG_PROGRESS_EVERY": "10ms"})
	ta := newTestApp(env)
	done := make(chan int, 1)
	go func() { done <- ta.run(t.Context(), "job") }()
	<-started
	// A running export reports its counters now and then.
	waitFor(t, "a progress line", func() bool { return strings.Contains(ta.stdout.String(), `"message":"export progress"`) })
	ta.sig <- syscall.SIGTERM
	if code := <-done; code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s", code, ta.stdout)
	}
	if !strings.Contains(ta.stdout.String(), "suspending exports") {
		t.Errorf("no suspension logged:\n%s", ta.stdout)
	}
	first := opLabels(t, ta.stdout.String())
	if len(first) != 1 {
		t.Fatalf("operations of attempt 0: %v", first)
	}
	ops := newTestApp(nil)
	if code := ops.run(t.Context(), "operations", "list", "--org", "acme", "--store", dir+"/.pubexport/operations"); code != 0 {
		t.Fatalf("list: %d %s", code, ops.stderr)
	}
	if strings.Contains(ops.stdout.String(), "CANCELLED") || strings.Contains(ops.stdout.String(), "DONE") {
		t.Errorf("a suspended export must stay resumable:\n%s", ops.stdout)
	}

	blocking.Store(false)
	env["CLOUD_RUN_TASK_ATTEMPT"] = "1"
	retry := newTestApp(env)
	if code := retry.run(t.Context(), "job"); code != 0 {
		t.Fatalf("retry: exit %d\n%s", code, retry.stdout)
	}
	second := opLabels(t, retry.stdout.String())
	for id := range first {
		if second[id] == 0 || len(second) != 1 {
			t.Errorf("retry ran %v, want the suspended %s", second, id)
		}
	}
	if !strings.Contains(retry.stdout.String(), "resuming its export") || !strings.Contains(retry.stdout.String(), "export finished") {
		t.Errorf("retry log:\n%s", retry.stdout)
	}
	if finals, _ := exportFiles(t, dir); len(finals) != 1 {
		t.Errorf("exports: %v", finals)
	}
}
