package operations

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/layout"
	"pubexport/export/sink"
	"pubexport/formats"
	"pubexport/formats/csv"
	"pubexport/formats/field"
	"pubexport/operations/operationspb"
	"pubexport/operations/store"
)

// MaxRequestIDLength bounds request_id: it is meant to be a UUID (36
// characters); the bound keeps claims small.
const MaxRequestIDLength = 128

// Spec validates an export request and turns it into the export it asks
// for. It does no I/O. Errors are INVALID_ARGUMENT and start with the
// request field at fault, then say how to fix it, because they reach API
// clients that never saw the command line's flag names; a
// google.rpc.BadRequest detail names the field for programs.
//
// Defaults: format json; compression none for text formats and zstd for
// Parquet; CSV delimiter ",".
func Spec(req *operationspb.ExportRequest) (export.Spec, error) {
	if req == nil {
		return export.Spec{}, invalid("request", "missing export request")
	}
	if err := store.CheckParent(req.GetParent(), false); err != nil {
		return export.Spec{}, invalid("parent", "%q is not an organization; want organizations/{org}, for example organizations/acme", field.Echo(req.GetParent()))
	}
	spec := export.Spec{
		Org:            strings.TrimPrefix(req.GetParent(), "organizations/"),
		Destination:    req.GetDestination(),
		ApigeeURL:      req.GetApigeeUrl(),
		IncludeSecrets: req.GetIncludeSecrets(),
		MaxObjectSize:  req.GetMaxObjectSize(),
	}

	r, err := apigee.ParseResource(req.GetResource())
	if err != nil {
		return export.Spec{}, invalidFrom("resource", err)
	}
	spec.Resource = r

	format := req.GetFormat()
	if format == "" {
		format = string(formats.JSON)
	}
	f, err := formats.ParseFormat(format)
	if err != nil {
		return export.Spec{}, invalidFrom("format", err)
	}
	spec.Format = f

	c, err := formats.ParseCompression(f, req.GetCompression())
	if err != nil {
		valid := "none (default) or gzip"
		if f == formats.Parquet {
			valid = "zstd (default), snappy, gzip or none"
		}
		return export.Spec{}, invalid("compression", "%q is not available for format %s; use %s", field.Echo(req.GetCompression()), f, valid)
	}
	spec.Compression = c

	if spec.CSV, err = csvOptions(f, req.GetCsv()); err != nil {
		return export.Spec{}, err
	}
	if err := checkDestination(req, spec.Destination); err != nil {
		return export.Spec{}, err
	}
	if u := spec.ApigeeURL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || len(p.Hostname()) > 253 || strings.Trim(p.Path, "/") != "" || p.RawQuery != "" {
			return export.Spec{}, invalid("apigee_url", "%q is not a base URL; use one such as https://apigee.googleapis.com or http://127.0.0.1:8080, or leave it empty", field.Echo(apigee.RedactURL(u)))
		}
	}
	if n := spec.MaxObjectSize; n < 0 || (n > 0 && n < export.MinObjectSize) {
		return export.Spec{}, invalid("max_object_size", "%d is too small; use 0 for a single object or at least %d bytes (1 MiB)", n, export.MinObjectSize)
	}
	if id := req.GetRequestId(); len(id) > MaxRequestIDLength || !utf8.ValidString(id) {
		return export.Spec{}, invalid("request_id", "use a UUID (at most %d bytes of UTF-8), or leave it empty", MaxRequestIDLength)
	}
	// The spec's own checks back ours up: a rule added there must not be
	// skipped here.
	if err := spec.Validate(); err != nil {
		return export.Spec{}, invalidFrom("request", err)
	}
	return spec, nil
}

func csvOptions(f formats.Format, o *operationspb.CsvOptions) (csv.Options, error) {
	if o == nil {
		return csv.Options{}, nil
	}
	if f != formats.CSV && (o.GetDelimiter() != "" || o.GetNoHeader() || o.GetGuardFormulas()) {
		return csv.Options{}, invalid("csv", "CSV options apply only to format csv, not %s; remove them or set format to csv", f)
	}
	opts := csv.Options{NoHeader: o.GetNoHeader(), GuardFormulas: o.GetGuardFormulas()}
	if d := o.GetDelimiter(); d != "" {
		r, size := utf8.DecodeRuneInString(d)
		if size != len(d) || (r != ',' && r != '|' && r != '\t') {
			return csv.Options{}, invalid("csv.delimiter", `%q is not supported; use a single ",", "|" or tab character`, field.Echo(d))
		}
		opts.Delimiter = r
	}
	if err := opts.Validate(); err != nil {
		return csv.Options{}, invalidFrom("csv", err)
	}
	return opts, nil
}

// checkDestination applies sink's rules for a destination (scheme, bucket
// name, prefix, folder) without I/O, so that a bad one is refused before an
// operation is recorded; its message names the request field.
func checkDestination(req *operationspb.ExportRequest, d string) error {
	if err := layout.Validate(d); err != nil {
		return invalid("destination", "%v", err)
	}
	// A template is checked as it will be used: filled in, here with a
	// sample operation id and the current date.
	d = layout.Expand(d, layoutValues(req, "00000000-0000-0000-0000-000000000000", time.Now()))
	if err := sink.ValidateDestination(d); err != nil {
		return invalidFrom("destination", err)
	}
	return nil
}

// invalid is INVALID_ARGUMENT about the request field named field (its
// proto name, "" for the request as a whole). The message starts with the
// field, and a google.rpc.BadRequest detail names it for clients that read
// details.
func invalid(field, format string, args ...any) error {
	desc := fmt.Sprintf(format, args...)
	if field == "" {
		return status.Error(codes.InvalidArgument, desc)
	}
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}},
	}); err == nil {
		st = d
	}
	return st.Err()
}

// invalidFrom is invalid for an error of a library the request was checked
// with: a *field.Error in it names the request field at fault (the
// libraries name values as the request does, except the organization, which
// the request gives as parent); else the error is about def.
func invalidFrom(def string, err error) error {
	var fe *field.Error
	if !errors.As(err, &fe) {
		return invalid(def, "%s", status.Convert(err).Message())
	}
	return invalid(requestField(fe.Field), "%s", fe.Description())
}
