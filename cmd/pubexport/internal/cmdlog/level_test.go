package cmdlog

import (
	"log/slog"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warning": slog.LevelWarn,
		"warn": slog.LevelWarn, " error ": slog.LevelError, "none": LevelNone,
	} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "trace", "fatal", "warnings"} {
		_, err := ParseLevel(in)
		if err == nil || !strings.Contains(err.Error(), "debug, info, warning, error or none") {
			t.Errorf("ParseLevel(%q) error %v does not list the levels", in, err)
		}
	}
}
