package export

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxPanicMessage bounds the panic text an error carries: a panic value may
// hold a record or a body, and the error reaches operation records and
// API answers.
const maxPanicMessage = 300

// PanicError is what an export ends with when code under it panicked: one
// export that meets a bug must end its own operation with INTERNAL, not take
// the process down with every other export it runs (and, under serve,
// restart into the same panic when recovery resumes the operation). Call it
// from a deferred function with recover's value. The stack goes to log
// only: errors are shown to API callers and stored with operations.
func PanicError(log *slog.Logger, what string, p any) error {
	msg := fmt.Sprint(p)
	if log != nil {
		log.Error(what+" panicked; it ends with INTERNAL and the process carries on", "panic", msg, "stack", string(debug.Stack()))
	}
	if len(msg) > maxPanicMessage {
		msg = msg[:maxPanicMessage] + "..."
	}
	return status.Errorf(codes.Internal, "%s stopped on an internal error (%s); this is a bug in pubexport: the stack trace is in the log of the process that ran it, please report it", what, msg)
}
