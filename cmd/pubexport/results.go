package main

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/cmd/pubexport/internal/progress"
	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// metadataOf decodes an operation's metadata; nil if it has none we know.
func metadataOf(op *longrunningpb.Operation) *apigeepb.OperationMetadata {
	md := new(apigeepb.OperationMetadata)
	if op.GetMetadata() == nil || op.GetMetadata().UnmarshalTo(md) != nil {
		return nil
	}
	return md
}

// responseOf decodes a successful operation's response.
func responseOf(op *longrunningpb.Operation) *operationspb.ExportResponse {
	resp := new(operationspb.ExportResponse)
	if op.GetResponse() == nil || op.GetResponse().UnmarshalTo(resp) != nil {
		return nil
	}
	return resp
}

// failure is a done operation's error as a Go error (nil for success).
func failure(op *longrunningpb.Operation) error {
	if e := op.GetError(); e != nil {
		return status.ErrorProto(e)
	}
	return nil
}

// shortFailure is a done operation's error as the progress display shows
// it: "cancelled", or CODE: message.
func shortFailure(op *longrunningpb.Operation) error {
	e := op.GetError()
	switch {
	case e == nil:
		return nil
	case codes.Code(e.GetCode()) == codes.Canceled:
		return errors.New("cancelled")
	}
	return fmt.Errorf("%s: %s", code.Code(e.GetCode()), firstLine(e.GetMessage()))
}

// labelOf names an operation for people: its resource ("developers"),
// or its id when the metadata does not say.
func labelOf(op *longrunningpb.Operation) string {
	if t := metadataOf(op).GetTargetResourceName(); t != "" {
		return path.Base(t)
	}
	return path.Base(op.GetName())
}

// snapshotOf reads the progress counters an operation reports: from the
// response when it succeeded, else from metadata.progress.details.
func snapshotOf(op *longrunningpb.Operation) progress.Snapshot {
	s := progress.Snapshot{Total: -1}
	if d := metadataOf(op).GetProgress().GetDetails().GetFields(); d != nil {
		num := func(k string, def int64) int64 {
			if v, ok := d[k]; ok {
				return int64(v.GetNumberValue())
			}
			return def
		}
		s = progress.Snapshot{
			Records: num("records", 0),
			Pages:   num("pages", 0),
			Bytes:   num("bytes", 0),
			Objects: num("objects", 0),
			Total:   num("total", -1),
			Waiting: time.Duration(num("waitingSeconds", 0)) * time.Second,
		}
	}
	if r := responseOf(op); r != nil {
		s.Records, s.Pages, s.Objects = r.GetRecords(), r.GetPages(), int64(len(r.GetObjects()))
		var bytes int64
		for _, o := range r.GetObjects() {
			bytes += o.GetSize()
		}
		s.Bytes = bytes
	}
	return s
}

// stateOf is a one-word state for tables.
func stateOf(op *longrunningpb.Operation) string {
	if op.GetDone() {
		if e := op.GetError(); e != nil {
			if codes.Code(e.GetCode()) == codes.Canceled {
				return "CANCELLED"
			}
			return "FAILED"
		}
		return "DONE"
	}
	if s := metadataOf(op).GetState(); s != apigeepb.OperationMetadata_STATE_UNSPECIFIED {
		return s.String()
	}
	return "PENDING"
}

// printResult writes what a person wants from a finished export: the
// objects to download and the manifest that describes them.
func printResult(w io.Writer, op *longrunningpb.Operation) {
	label := labelOf(op)
	if !op.GetDone() {
		fmt.Fprintf(w, "%s: %s, not finished (%s)\n", label, stateOf(op), op.GetName())
		return
	}
	if err := failure(op); err != nil {
		fmt.Fprintf(w, "%s: %s (%s)\n", label, stateOf(op), op.GetName())
		return
	}
	r := responseOf(op)
	fmt.Fprintf(w, "%s: %s in %s (%s)\n", label, plural(r.GetRecords(), "record"), plural(int64(len(r.GetObjects())), "object"), op.GetName())
	for _, o := range r.GetObjects() {
		note := ""
		if o.GetExisted() {
			note = "  (unchanged: already there)"
		}
		fmt.Fprintf(w, "  %s%s\n", o.GetUri(), note)
	}
	if m := r.GetManifest(); m != nil {
		fmt.Fprintf(w, "  manifest: %s\n", m.GetUri())
	}
	if r.GetSecretsIncluded() {
		fmt.Fprintf(w, "  note: consumer secrets are included in clear text\n")
	}
	for _, warning := range metadataOf(op).GetWarnings() {
		if !strings.HasPrefix(warning, "consumer secrets") { // the note above
			fmt.Fprintf(w, "  warning: %s\n", warning)
		}
	}
}

// opError is the error to exit with for a failed operation.
func opError(op *longrunningpb.Operation) error {
	err := failure(op)
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	// The details (a field violation, say) stay: printError names the field.
	p := st.Proto()
	p.Message = fmt.Sprintf("%s export %s failed: %s (code %d %s)", labelOf(op), op.GetName(), st.Message(), int(st.Code()), code.Code(st.Code()).String())
	return status.ErrorProto(p)
}

// printJSON writes m as indented protojson, for scripts (`jq`).
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding the result as JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printTable lists operations, one line each.
func printTable(w io.Writer, ops []*longrunningpb.Operation) {
	rows := [][]string{{"NAME", "RESOURCE", "STATE", "RECORDS", "ERROR"}}
	for _, op := range ops {
		errText := ""
		if e := op.GetError(); e != nil {
			errText = code.Code(e.GetCode()).String() + ": " + firstLine(e.GetMessage())
		}
		rows = append(rows, []string{op.GetName(), labelOf(op), stateOf(op), fmt.Sprint(snapshotOf(op).Records), errText})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			fmt.Fprintf(&b, "%-*s  ", widths[i], c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
