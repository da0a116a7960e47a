package cmdlog

import (
	"fmt"
	"log/slog"
	"strings"
)

// LevelNone is above every level: nothing is written.
const LevelNone = slog.Level(100)

// levelNames is the one vocabulary of log levels, for --verbosity (run),
// --log-level (serve) and PUBEXPORT_LOG_LEVEL (job), in the order a user
// reads them. "warn", slog's spelling, is accepted for warning.
var levelNames = []struct {
	name  string
	level slog.Level
}{
	{"debug", slog.LevelDebug},
	{"info", slog.LevelInfo},
	{"warning", slog.LevelWarn},
	{"error", slog.LevelError},
	{"none", LevelNone},
}

// LevelNames lists the level names ParseLevel accepts, for help texts and
// errors: "debug, info, warning, error or none".
func LevelNames() string {
	names := make([]string, len(levelNames))
	for i, l := range levelNames {
		names[i] = l.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseLevel reads a level name (any case; "warn" for warning). The error
// says what is valid; the caller names the flag or variable.
func ParseLevel(s string) (slog.Level, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "warn" {
		s = "warning"
	}
	for _, l := range levelNames {
		if l.name == s {
			return l.level, nil
		}
	}
	return 0, fmt.Errorf("%q is not a log level: want %s", s, LevelNames())
}
