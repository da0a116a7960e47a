// Command pubexport exports Apigee publishing data (developers, apps, API
// products) to Cloud Storage or a local folder, each export a
// google.longrunning operation. Run `pubexport --help` for the subcommands:
//
//	pubexport run                      # the bundled sample organization, offline
//	pubexport run --org acme --to gs://bucket/apigee --format parquet
//	pubexport serve --addr :8080 --store gs://bucket/ops
//	pubexport operations wait organizations/acme/operations/ID --server http://127.0.0.1:8080
//	pubexport job                      # the Cloud Run job entrypoint, configured by environment
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"golang.org/x/term"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/status"

	"pubexport/cmd/internal/memlimit"
	"pubexport/formats/field"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1   // an export or a call failed
	exitUsage       = 2   // bad flags, arguments or environment
	exitInterrupted = 130 // Ctrl-C (128 + SIGINT), as shells report it
	exitTerminated  = 143 // SIGTERM (128 + SIGTERM): exports suspended, resumable
)

// signalExit is the exit status after stopping for sig: 128 + its number,
// as shells report a process a signal ended (SIGINT 130, SIGTERM 143,
// SIGHUP 129).
func signalExit(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitInterrupted
}

// cancels reports whether sig asks to give the exports up (Ctrl-C) rather
// than to stop this process and keep them resumable (SIGTERM, SIGHUP: a
// shutdown, a closed terminal or SSH session).
func cancels(sig os.Signal) bool { return sig == os.Interrupt }

// app is the process a command runs in. main fills it from the operating
// system; tests fill it with buffers, an environment map and their own
// signal channel, so that the whole CLI runs in-process.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// environ lists the environment as KEY=VALUE, for the check of
	// unknown PUBEXPORT_* variables (nil: no check).
	environ func() []string
	// terminal is true when stderr is a terminal: progress is drawn as bars
	// there and written as log lines otherwise.
	terminal bool
	// signals delivers SIGINT, SIGTERM and SIGHUP; stop undoes the
	// subscription. Commands subscribe before they start anything a signal
	// must stop.
	signals func() (ch <-chan os.Signal, stop func())
	// hardExit ends the process at a second Ctrl-C (os.Exit in main).
	hardExit func(code int)
	// notify is the --notify topic of the command (empty: the
	// PUBEXPORT_NOTIFY variable, or none).
	notify string
	// now is the clock of the operations this process runs (nil:
	// time.Now); tests move it to run "yesterday's" export.
	now func() time.Time
	// apigeeTimeout is --apigee-timeout (0: not given).
	apigeeTimeout time.Duration
	// maxParallel is --max-parallel-requests; maxParallelSet says it was
	// given (0 is a value to refuse, not "not given").
	maxParallel    int
	maxParallelSet bool
	// setMemoryLimit sets the process's soft memory limit for the exports
	// it runs (memlimit.Set in main; nil in tests, whose exports share one
	// test binary).
	setMemoryLimit func(bytes int64) int64
}

func main() {
	a := &app{
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		getenv:   os.Getenv,
		environ:  os.Environ,
		terminal: term.IsTerminal(int(os.Stderr.Fd())),
		signals: func() (<-chan os.Signal, func()) {
			ch := make(chan os.Signal, 2)
			signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			return ch, func() { signal.Stop(ch) }
		},
		hardExit:       os.Exit,
		setMemoryLimit: memlimit.Set,
	}
	os.Exit(execute(context.Background(), a, os.Args[1:]))
}

// execute runs the command line args and returns the exit code.
func execute(ctx context.Context, a *app, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	// Values are named as the user gave them: a job by its environment.
	names := requestFlags
	if cmd != nil && cmd.Name() == "job" {
		names = requestVars
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.err != nil {
			printError(a.stderr, ex.err, names)
		}
		return ex.code
	}
	printError(a.stderr, err, names)
	if isUsage(err) {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", commandPath(root, args))
		return exitUsage
	}
	return exitFailed
}

// exitError ends a command with a given exit code; err, when set, is
// printed first.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks errors in flags, arguments and environment: they exit 2
// and point at --help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef is a usage error with a formatted message. String arguments,
// which are mostly flag values as the user typed them, are cut to
// field.MaxMessage: a flag value of megabytes must not come back whole.
func usagef(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = field.EchoMessage(s)
		}
	}
	return usageError{fmt.Errorf(format, args...)}
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// printError writes "ERROR: " and the message, with the values libraries
// refused named by names (see fieldMessage); for errors that carry a gRPC
// status it adds the code the way Google's APIs name it, so that a script
// or a person can tell PERMISSION_DENIED from NOT_FOUND at a glance.
func printError(w io.Writer, err error, names map[string]string) {
	if st, ok := status.FromError(err); ok && st.Code() != 0 && !isUsage(err) {
		fmt.Fprintf(w, "ERROR: (%s) %s\n", code.Code(st.Code()).String(), field.EchoMessage(fieldMessage(err, names)))
		return
	}
	fmt.Fprintf(w, "ERROR: %s\n", field.EchoMessage(fieldMessage(err, names)))
}

// rpcPrefix is what grpc-go puts before a status message in Error().
var rpcPrefix = regexp.MustCompile(`rpc error: code = \w+ desc = `)

// message is err's text without grpc-go's "rpc error: code = ... desc = "
// (the code is printed once, in Google's spelling, by printError).
func message(err error) string {
	return rpcPrefix.ReplaceAllString(err.Error(), "")
}
