package export

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/apigee"
	"pubexport/formats"
	"pubexport/formats/csv"
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
// organization before it writes anything.
func (s *Spec) Validate() error {
	if s.Org == "" {
		return invalid("missing organization: set --org to your Apigee organization name (for example --org acme)")
	}
	if !orgName.MatchString(s.Org) {
		return invalid("invalid organization %q: an Apigee organization name has letters, digits and hyphens only (at most 63)", s.Org)
	}
	if _, err := apigee.ParseResource(string(s.Resource)); err != nil {
		return err
	}
	if _, err := formats.ParseFormat(string(s.Format)); err != nil {
		return err
	}
	c, err := formats.ParseCompression(s.Format, string(s.Compression))
	if err != nil {
		return err
	}
	s.Compression = c
	if s.Format != formats.CSV && (s.CSV != csv.Options{}) {
		return invalid("CSV options (--csv-delimiter, --no-header, --guard-formulas) apply only to --format csv, not %q", s.Format)
	}
	if s.Destination == "" {
		return invalid("missing destination: set --to to gs://BUCKET/PREFIX or file:///DIR")
	}
	if s.ApigeeURL != "" {
		u, err := url.Parse(s.ApigeeURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return invalid("invalid --apigee-url %q: want a base URL such as https://apigee.googleapis.com or http://127.0.0.1:8080", apigee.RedactURL(s.ApigeeURL))
		}
	}
	if s.MaxObjectSize < 0 || (s.MaxObjectSize > 0 && s.MaxObjectSize < MinObjectSize) {
		return invalid("invalid --max-object-size %d: use 0 for one object, or at least %d bytes (1 MiB)", s.MaxObjectSize, MinObjectSize)
	}
	return nil
}

// Target is the Apigee resource name the export reads, for example
// "organizations/acme/developers".
func (s Spec) Target() string {
	return fmt.Sprintf("organizations/%s/%s", s.Org, s.Resource)
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}
