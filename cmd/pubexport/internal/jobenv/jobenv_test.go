package jobenv

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"time"

	"pubexport/export/apigee"
	"pubexport/formats"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(env(map[string]string{Org: "acme", Destination: "gs://exports-bucket/apigee"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Resources, apigee.Resources()) || c.Format != formats.JSON || c.Compression != "" ||
		c.TaskCount != 1 || c.TaskIndex != 0 || c.IncludeSecrets || c.MaxObjectSize != 0 || c.LogProgress != 30*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if c.RequestID(apigee.Apps, 0) != "" {
		t.Errorf("request id outside Cloud Run: %q", c.RequestID(apigee.Apps, 0))
	}
}

func TestParseAll(t *testing.T) {
	c, err := Parse(env(map[string]string{
		Org: "acme", Destination: "file:///tmp/x", Resources: " apps, developers ,apps",
		Format: "CSV", Compression: "gzip", IncludeSecrets: "true", CSVDelimiter: `\t`,
		CSVNoHeader: "1", CSVGuard: "true", MaxObjectSize: "64MiB", ApigeeURL: "http://127.0.0.1:9",
		TaskIndex: "1", TaskCount: "2", TaskAttempt: "3", Execution: "export-abc12", LogLevel: "DEBUG",
		LogProgress: "5s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Org: "acme", Destination: "file:///tmp/x", Resources: []apigee.Resource{apigee.Apps, apigee.Developers},
		Format: formats.CSV, Compression: formats.Gzip, IncludeSecrets: true, CSVDelimiter: "\t",
		CSVNoHeader: true, CSVGuard: true, MaxObjectSize: 64 << 20, ApigeeURL: "http://127.0.0.1:9",
		TaskIndex: 1, TaskCount: 2, TaskAttempt: 3, Execution: "export-abc12", LogLevel: "debug",
		LogProgress: 5 * time.Second,
	}
	if !slices.Equal(c.Resources, want.Resources) {
		t.Errorf("resources = %v", c.Resources)
	}
	c.Resources, want.Resources = nil, nil
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("got  %+v\nwant %+v", *c, want)
	}
}

func TestParseOperation(t *testing.T) {
	c, err := Parse(env(map[string]string{Operation: "organizations/acme/operations/123", Store: "gs://b-ops/ops"}))
	if err != nil || c.Operation != "organizations/acme/operations/123" || c.Store != "gs://b-ops/ops" {
		t.Fatalf("got %+v, %v", c, err)
	}
}

func TestParseErrorsNameTheVariable(t *testing.T) {
	base := map[string]string{Org: "acme", Destination: "gs://bucket-x/p"}
	for _, c := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{Org: ""}, Org + " is required"},
		{map[string]string{Destination: ""}, Destination + " is required"},
		{map[string]string{Resources: "developers,users"}, Resources + `="developers,users": "users"`},
		{map[string]string{Format: "xml"}, Format + `="xml"`},
		{map[string]string{Compression: "zstd"}, Compression + `="zstd"`},
		{map[string]string{Format: "parquet", Compression: "lz4"}, Compression + `="lz4"`},
		{map[string]string{IncludeSecrets: "yes please"}, IncludeSecrets + `="yes please"`},
		{map[string]string{CSVDelimiter: ";", Format: "csv"}, CSVDelimiter + `=";"`},
		{map[string]string{CSVNoHeader: "true"}, "apply only to " + Format + "=csv"},
		{map[string]string{MaxObjectSize: "64 parsecs"}, MaxObjectSize},
		{map[string]string{TaskIndex: "x"}, TaskIndex + `="x"`},
		{map[string]string{TaskIndex: "3", TaskCount: "3"}, TaskIndex + "=3 is outside 0..2"},
		{map[string]string{TaskCount: "0"}, TaskCount + "=0"},
		{map[string]string{LogLevel: "loud"}, LogLevel},
		{map[string]string{LogProgress: "often"}, LogProgress},
		{map[string]string{Operation: "operations/123", Store: "file:///x"}, Operation + `="operations/123"`},
		{map[string]string{Operation: "organizations/a/operations/1"}, Store + " is required with " + Operation},
	} {
		kv := map[string]string{}
		for k, v := range base {
			kv[k] = v
		}
		for k, v := range c.set {
			kv[k] = v
		}
		_, err := Parse(env(kv))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%v) error = %v, want it to contain %q", c.set, err, c.want)
		}
	}
}

func TestMine(t *testing.T) {
	all := apigee.Resources()
	for _, c := range []struct {
		index, count int
		want         []apigee.Resource
	}{
		{0, 1, all},
		{0, 3, all[0:1]}, {1, 3, all[1:2]}, {2, 3, all[2:3]},
		{0, 2, []apigee.Resource{all[0], all[2]}}, {1, 2, all[1:2]},
		{3, 4, nil},
	} {
		cfg := Config{Resources: all, TaskIndex: c.index, TaskCount: c.count}
		if got := cfg.Mine(); !slices.Equal(got, c.want) {
			t.Errorf("task %d of %d: %v, want %v", c.index, c.count, got, c.want)
		}
	}
}

func TestRequestIDStablePerExecution(t *testing.T) {
	a := Config{Org: "acme", Destination: "gs://b/p", Execution: "exports-x7k2p"}
	b := a
	b.TaskAttempt = 2 // a retry of the same task
	if a.RequestID(apigee.Apps, 0) == "" || a.RequestID(apigee.Apps, 0) != b.RequestID(apigee.Apps, 0) {
		t.Errorf("retry gets another request id: %q vs %q", a.RequestID(apigee.Apps, 0), b.RequestID(apigee.Apps, 0))
	}
	if a.RequestID(apigee.Apps, 0) == a.RequestID(apigee.Developers, 0) {
		t.Error("two resources share a request id")
	}
	other := a
	other.Execution = "exports-9zz1q"
	if a.RequestID(apigee.Apps, 0) == other.RequestID(apigee.Apps, 0) {
		t.Error("two executions share a request id")
	}
	// A restart after a transient failure is a new export, stable too; the
	// first keeps the derivation of earlier releases.
	if a.RequestID(apigee.Apps, 1) == a.RequestID(apigee.Apps, 0) || a.RequestID(apigee.Apps, 1) == a.RequestID(apigee.Apps, 2) ||
		a.RequestID(apigee.Apps, 1) != b.RequestID(apigee.Apps, 1) {
		t.Errorf("restart ids: %q %q %q", a.RequestID(apigee.Apps, 0), a.RequestID(apigee.Apps, 1), a.RequestID(apigee.Apps, 2))
	}
	if got := a.RequestID(apigee.Apps, 0); got != legacyRequestID(a, apigee.Apps) {
		t.Errorf("restart 0 changed its derivation: %q", got)
	}
}

// legacyRequestID is RequestID as released before restarts existed.
func legacyRequestID(c Config, r apigee.Resource) string {
	key := strings.Join([]string{c.Execution, c.Org, string(r), c.Destination}, "\x00")
	return uuid.NewSHA1(requestIDSpace, []byte(key)).String()
}

func TestVarsDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars {
		if v.Help == "" || seen[v.Name] {
			t.Errorf("var %s: empty help or listed twice", v.Name)
		}
		seen[v.Name] = true
	}
	for _, name := range []string{Org, Resources, Format, Compression, Destination, ApigeeURL, IncludeSecrets,
		CSVDelimiter, CSVNoHeader, CSVGuard, MaxObjectSize, Operation, Store, LogLevel, LogProgress, TaskIndex, TaskCount,
		TaskAttempt, Execution} {
		if !seen[name] {
			t.Errorf("%s is read but not documented in Vars", name)
		}
	}
}
