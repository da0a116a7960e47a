package export

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee"
	"pubexport/formats"
	"pubexport/formats/csv"
	"pubexport/formats/field"
)

// Spec says what one export reads and where it writes. The zero values of the
// optional fields are the defaults a user would expect: no compression for
// text formats, Zstd for Parquet, consumer secrets redacted, one object.
type Spec struct {
	// Org is the Apigee organization, e.g. "acme".
	Org string
	// Resource is the collection to export.
	Resource apigee.Resource
	// Format and Compression choose the encoding.
	Format      formats.Format
	Compression formats.Compression
	// CSV holds the CSV-only options (delimiter, header, formula guard).
	CSV csv.Options
	// Destination is gs://BUCKET/PREFIX, file:///DIR or a plain directory path.
	Destination string
	// ApigeeURL overrides the Apigee management API base URL (the emulator,
	// a proxy). Empty means https://apigee.googleapis.com.
	ApigeeURL string
	// IncludeSecrets keeps credentials[].consumerSecret in the output. Off by
	// default: an export file is easy to leak and secrets are rarely needed.
	IncludeSecrets bool
	// MaxObjectSize, when positive, splits the export into several objects:
	// an object is closed at the first page boundary at which it holds at
	// least this many bytes. Each object is a complete file of its format.
	MaxObjectSize int64
}

// MinObjectSize is the smallest MaxObjectSize accepted: below it a split
// export would produce an object per page and gain nothing.
const MinObjectSize = 1 << 20

// orgName follows Apigee's organization names: they are Google Cloud project
// IDs on Apigee X and hybrid, and letters, digits and hyphens on Edge.
var orgName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,62}$`)

// Validate checks every field and fills in defaults it can decide alone
// (compression). It does no I/O; Runner.Run checks the destination and the
// organization before it writes anything. Errors are INVALID_ARGUMENT and
// wrap a *field.Error naming the value at fault (never a flag: the command
// line, the job and the API each name it their own way).
func (s *Spec) Validate() error {
	if s.Org == "" {
		return invalid(&field.Error{Field: field.Organization, Problem: "missing", Valid: "give your Apigee organization's name, for example acme"})
	}
	if !orgName.MatchString(s.Org) {
		return invalid(&field.Error{Field: field.Organization, Value: s.Org, Problem: fmt.Sprintf("%q is not an organization name", field.Echo(s.Org)),
			Valid: "an Apigee organization name has letters, digits and hyphens only (at most 63)"})
	}
	if _, err := apigee.ParseResource(string(s.Resource)); err != nil {
		return err
	}
	if _, err := formats.ParseFormat(string(s.Format)); err != nil {
		return invalid(err)
	}
	c, err := formats.ParseCompression(s.Format, string(s.Compression))
	if err != nil {
		return invalid(err)
	}
	s.Compression = c
	if s.Format != formats.CSV && (s.CSV != csv.Options{}) {
		return invalid(&field.Error{Field: field.CSVOptions, Problem: fmt.Sprintf("CSV options apply only to format csv, not %s", s.Format),
			Valid: "remove them or choose format csv"})
	}
	if s.Destination == "" {
		return invalid(&field.Error{Field: field.Destination, Problem: "missing", Valid: "give gs://BUCKET/PREFIX or file:///DIR"})
	}
	if s.ApigeeURL != "" {
		u, err := url.Parse(s.ApigeeURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(u.Hostname()) > 253 || strings.Trim(u.Path, "/") != "" {
			// The URL may carry a password: it is used, never written.
			redacted := apigee.RedactURL(s.ApigeeURL)
			return invalid(&field.Error{Field: field.ApigeeURL, Value: redacted, Problem: fmt.Sprintf("%q is not a base URL", field.Echo(redacted)),
				Valid: "use one such as https://apigee.googleapis.com or http://127.0.0.1:8080"})
		}
	}
	if s.MaxObjectSize < 0 || (s.MaxObjectSize > 0 && s.MaxObjectSize < MinObjectSize) {
		return invalid(&field.Error{Field: field.MaxObjectSize, Value: strconv.FormatInt(s.MaxObjectSize, 10), Problem: fmt.Sprintf("%d is too small", s.MaxObjectSize),
			Valid: fmt.Sprintf("use 0 for one object, or at least %d bytes (1 MiB)", MinObjectSize)})
	}
	return nil
}

// Target is the Apigee resource name the export reads, for example
// "organizations/acme/developers".
func (s Spec) Target() string {
	return fmt.Sprintf("organizations/%s/%s", s.Org, s.Resource)
}

// invalid gives err, a *field.Error or an error that wraps one, the
// INVALID_ARGUMENT code for callers that read codes; errors.As still finds
// the field. An error that has a code already keeps it.
func invalid(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return &invalidError{err}
}

type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }
func (e *invalidError) GRPCStatus() *status.Status {
	return status.New(codes.InvalidArgument, e.err.Error())
}
