// Package cmdlog writes log/slog records as the JSON lines that Cloud Run and
// Cloud Logging read from stdout: `severity` instead of `level`, `message`
// instead of `msg`, and the export's operation name as
// `logging.googleapis.com/operation`, so that the Logs Explorer groups every
// line of one export together (and links them to the operation's id) even
// when several exports share a process.
//
// See https://cloud.google.com/logging/docs/structured-logging for the
// special fields.
package cmdlog

import (
	"io"
	"log/slog"
	"strconv"
)

// Cloud Logging's special JSON fields.
const (
	SeverityKey  = "severity"
	MessageKey   = "message"
	TimeKey      = "time"
	OperationKey = "logging.googleapis.com/operation"
	// SourceLocationKey is written only with Options.AddSource.
	SourceLocationKey = "logging.googleapis.com/sourceLocation"
)

// Producer is the `producer` of every operation label this package writes:
// together with the id it makes the grouping key.
const Producer = "pubexport"

// Level values beyond slog's four, for the Cloud Logging severities that have
// no slog name. They sit between and above slog's levels in the same steps.
const (
	LevelNotice    = slog.LevelInfo + 2
	LevelCritical  = slog.LevelError + 4
	LevelAlert     = slog.LevelError + 8
	LevelEmergency = slog.LevelError + 12
)

// Options configures New.
type Options struct {
	// Level is the minimum level written (slog.LevelInfo when nil).
	Level slog.Leveler
	// OperationAttr is the attribute key whose string value is an operation
	// name ("operation" when empty). A top-level attribute with this key, on
	// a record or added with Logger.With, becomes the
	// logging.googleapis.com/operation label.
	OperationAttr string
	// AddSource writes the caller as logging.googleapis.com/sourceLocation.
	AddSource bool
}

// New returns a handler that writes one Cloud Logging JSON object per record
// to w. It is a slog.JSONHandler with its keys and values mapped, so it keeps
// that handler's guarantees (one Write per record, safe for concurrent use).
func New(w io.Writer, o Options) slog.Handler {
	opKey := o.OperationAttr
	if opKey == "" {
		opKey = "operation"
	}
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:     o.Level,
		AddSource: o.AddSource,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				level, _ := a.Value.Any().(slog.Level)
				return slog.String(SeverityKey, Severity(level))
			case slog.MessageKey:
				return slog.Attr{Key: MessageKey, Value: a.Value}
			case slog.SourceKey:
				src, ok := a.Value.Any().(*slog.Source)
				if !ok || src == nil {
					return a
				}
				return slog.Group(SourceLocationKey,
					slog.String("file", src.File),
					slog.String("line", strconv.Itoa(src.Line)),
					slog.String("function", src.Function))
			case opKey:
				if a.Value.Kind() != slog.KindString || a.Value.String() == "" {
					return a
				}
				return Operation(a.Value.String())
			}
			return a
		},
	})
}

// Operation is the attribute that labels a line with an operation: add it to
// a logger (logger.With(cmdlog.Operation(name))) when the operation name is
// not under the handler's OperationAttr key.
func Operation(name string) slog.Attr {
	return slog.Group(OperationKey,
		slog.String("id", name),
		slog.String("producer", Producer))
}

// Severity maps a slog level to Cloud Logging's LogSeverity name. Levels
// between two names take the lower one, as slog does for its own names.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < LevelNotice:
		return "INFO"
	case l < slog.LevelWarn:
		return "NOTICE"
	case l < slog.LevelError:
		return "WARNING"
	case l < LevelCritical:
		return "ERROR"
	case l < LevelAlert:
		return "CRITICAL"
	case l < LevelEmergency:
		return "ALERT"
	default:
		return "EMERGENCY"
	}
}
