package cmdlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func decodeLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestShape(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(New(&buf, Options{Level: slog.LevelDebug}))
	const op = "organizations/acme/operations/0b6c1f0e-2a4e-4a43-9d3c-000000000001"
	log.Info("export started", "operation", op, "resource", "developers")
	log.With("operation", op).Warn("retrying page", "error", errors.New("429 too many requests"))
	log.Debug("no operation here", "records", 12)
	log.Log(t.Context(), LevelNotice, "notice")
	log.Log(t.Context(), LevelCritical, "critical")

	lines := decodeLines(t, buf.Bytes())
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"INFO", "WARNING", "DEBUG", "NOTICE", "CRITICAL"} {
		if got := lines[i][SeverityKey]; got != want {
			t.Errorf("line %d severity = %v, want %s", i, got, want)
		}
		if _, ok := lines[i]["level"]; ok {
			t.Errorf("line %d still has level: %v", i, lines[i])
		}
		if _, ok := lines[i]["msg"]; ok {
			t.Errorf("line %d still has msg: %v", i, lines[i])
		}
		ts, _ := lines[i][TimeKey].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("line %d time %q is not RFC 3339: %v", i, ts, err)
		}
	}
	if lines[0][MessageKey] != "export started" || lines[0]["resource"] != "developers" {
		t.Errorf("line 0 = %v", lines[0])
	}
	for _, i := range []int{0, 1} {
		label, ok := lines[i][OperationKey].(map[string]any)
		if !ok {
			t.Fatalf("line %d has no operation label: %v", i, lines[i])
		}
		if label["id"] != op || label["producer"] != Producer || len(label) != 2 {
			t.Errorf("line %d label = %v", i, label)
		}
		if _, ok := lines[i]["operation"]; ok {
			t.Errorf("line %d keeps the raw operation attr", i)
		}
	}
	if lines[1]["error"] != "429 too many requests" {
		t.Errorf("error attr = %v", lines[1]["error"])
	}
	if _, ok := lines[2][OperationKey]; ok {
		t.Errorf("line 2 has a label without an operation: %v", lines[2])
	}
}

func TestOperationAttrHelperAndGroups(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(New(&buf, Options{OperationAttr: "op", AddSource: true}))
	log.With(Operation("organizations/a/operations/x")).Info("one")
	// Inside a group the key is some other thing's field: left alone.
	log.WithGroup("request").Info("two", "op", "not a label")
	log.Debug("filtered out by the default level")
	lines := decodeLines(t, buf.Bytes())
	if len(lines) != 2 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	label := lines[0][OperationKey].(map[string]any)
	if label["id"] != "organizations/a/operations/x" {
		t.Errorf("label = %v", label)
	}
	src, ok := lines[0][SourceLocationKey].(map[string]any)
	if !ok || !strings.HasSuffix(src["file"].(string), "cmdlog_test.go") || src["line"] == "" {
		t.Errorf("sourceLocation = %v", lines[0][SourceLocationKey])
	}
	if g := lines[1]["request"].(map[string]any); g["op"] != "not a label" {
		t.Errorf("grouped attr rewritten: %v", lines[1])
	}
}

func TestSeverity(t *testing.T) {
	for _, c := range []struct {
		l    slog.Level
		want string
	}{
		{slog.LevelDebug - 4, "DEBUG"}, {slog.LevelDebug, "DEBUG"}, {slog.LevelInfo, "INFO"},
		{slog.LevelInfo + 1, "INFO"}, {LevelNotice, "NOTICE"}, {slog.LevelWarn, "WARNING"},
		{slog.LevelError, "ERROR"}, {LevelCritical, "CRITICAL"}, {LevelAlert, "ALERT"},
		{LevelEmergency, "EMERGENCY"}, {LevelEmergency + 10, "EMERGENCY"},
	} {
		if got := Severity(c.l); got != c.want {
			t.Errorf("Severity(%v) = %s, want %s", c.l, got, c.want)
		}
	}
}
