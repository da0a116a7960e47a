package operations

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/operations/operationspb"
)

// Metadata state shorthands: OperationMetadata and its Progress each have
// their own State enum with the same values.
const (
	notStarted = apigeepb.OperationMetadata_NOT_STARTED
	inProgress = apigeepb.OperationMetadata_IN_PROGRESS
	finished   = apigeepb.OperationMetadata_FINISHED
)

func setState(md *apigeepb.OperationMetadata, s apigeepb.OperationMetadata_State, description string) {
	md.State = s.Enum()
	if md.Progress == nil {
		md.Progress = new(apigeepb.OperationMetadataProgress)
	}
	md.Progress.State = apigeepb.OperationMetadataProgress_State(s).Enum()
	if description != "" {
		md.Progress.Description = proto.String(description)
	}
}

// newMetadata is the metadata of an operation nobody has run yet.
func newMetadata(spec export.Spec) *apigeepb.OperationMetadata {
	md := &apigeepb.OperationMetadata{TargetResourceName: proto.String(spec.Target())}
	setState(md, notStarted, "waiting to start")
	return md
}

// applyProgress writes a progress snapshot into the metadata: a sentence
// for people, the numbers for programs, and warnings for what was skipped.
func applyProgress(md *apigeepb.OperationMetadata, r apigee.Resource, p export.Progress, includeSecrets bool) {
	if md.Progress == nil {
		md.Progress = new(apigeepb.OperationMetadataProgress)
	}
	md.Progress.Description = proto.String(describe(r, p))
	md.Progress.PercentDone = nil
	if pct, ok := p.Percent(); ok {
		md.Progress.PercentDone = proto.Int32(int32(pct))
	}
	fields := map[string]*structpb.Value{
		"records": structpb.NewNumberValue(float64(p.Records)),
		"pages":   structpb.NewNumberValue(float64(p.Pages)),
		"bytes":   structpb.NewNumberValue(float64(p.Bytes)),
		"objects": structpb.NewNumberValue(float64(p.Objects)),
	}
	if p.Total >= 0 {
		fields["total"] = structpb.NewNumberValue(float64(p.Total))
	}
	if p.Waiting > 0 {
		// Seconds waited for the next page: clients show "waiting on
		// Apigee" from it.
		fields["waitingSeconds"] = structpb.NewNumberValue(p.Waiting.Round(time.Second).Seconds())
		md.Progress.Description = proto.String(describe(r, p) + fmt.Sprintf("; waiting on Apigee for %v", p.Waiting.Round(time.Second)))
	}
	md.Progress.Details = &structpb.Struct{Fields: fields}
	unknown := p.Unknown
	if len(p.Warnings) > 0 {
		unknown = 0 // named, with their counts, in p.Warnings
	}
	md.Warnings = append(warnings(p.Duplicates, unknown, includeSecrets), p.Warnings...)
}

// describe says where an export stands in one sentence, e.g.
// "exported 12,000 developers in 12 pages, 6.1 MB".
func describe(r apigee.Resource, p export.Progress) string {
	var b strings.Builder
	b.WriteString("exported ")
	b.WriteString(count(p.Records))
	if p.Total >= 0 {
		b.WriteString(" of ")
		b.WriteString(count(p.Total))
	}
	b.WriteString(" ")
	b.WriteString(noun(r, max(p.Records, p.Total)))
	fmt.Fprintf(&b, " in %s, %s", plural(p.Pages, "page"), bytesize(p.Bytes))
	if p.Objects > 0 {
		fmt.Fprintf(&b, ", %s published", plural(p.Objects, "object"))
	}
	return b.String()
}

func warnings(duplicates, unknown int64, secrets bool) []string {
	var w []string
	if duplicates > 0 {
		w = append(w, fmt.Sprintf("skipped %s duplicate %s that Apigee returned more than once", count(duplicates), pluralWord(duplicates, "record")))
	}
	if unknown > 0 {
		w = append(w, fmt.Sprintf("ignored %s unknown %s in Apigee's responses (fields newer than this pubexport)", count(unknown), pluralWord(unknown, "field")))
	}
	if secrets {
		w = append(w, "consumer secrets are included in the output: keep the objects as secret as the keys themselves")
	}
	return w
}

func noun(r apigee.Resource, n int64) string {
	var one, many string
	switch r {
	case apigee.Developers:
		one, many = "developer", "developers"
	case apigee.Apps:
		one, many = "app", "apps"
	case apigee.APIProducts:
		one, many = "API product", "API products"
	default:
		one, many = "record", "records"
	}
	if n == 1 {
		return one
	}
	return many
}

func plural(n int64, word string) string { return count(n) + " " + pluralWord(n, word) }

func pluralWord(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// count writes n with thousands separators: 12,000.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// bytesize writes a size in decimal units, as storage consoles do: 6.1 MB.
func bytesize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 999.95 || unit == "TB" {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return fmt.Sprintf("%d B", n) // not reached
}

// response is the operation's response for a finished export.
func response(res *export.Result) *operationspb.ExportResponse {
	out := &operationspb.ExportResponse{
		Manifest:             object(res.Manifest),
		Records:              res.Records,
		Pages:                res.Pages,
		DuplicatesSkipped:    res.Duplicates,
		UnknownFieldsIgnored: res.Unknown,
		SecretsIncluded:      res.SecretsIncluded,
		StartTime:            timestamppb.New(res.Started),
		EndTime:              timestamppb.New(res.Finished),
	}
	for _, o := range res.Objects {
		out.Objects = append(out.Objects, object(o))
	}
	return out
}

func object(o export.Object) *operationspb.ExportObject {
	return &operationspb.ExportObject{
		Name: o.Name, Uri: o.URI, Size: o.Size, Records: o.Records, Sha256: o.SHA256,
		Crc32C: o.CRC32C, ContentType: o.ContentType, Existed: o.Existed,
	}
}

// finalProgress is the progress of a finished export, from its result.
func finalProgress(res *export.Result) export.Progress {
	var bytes int64
	for _, o := range res.Objects {
		bytes += o.Size
	}
	return export.Progress{
		Records: res.Records, Pages: res.Pages, Bytes: bytes, Objects: int64(len(res.Objects)),
		Total: res.Records, Duplicates: res.Duplicates, Unknown: res.Unknown, Warnings: res.Warnings,
	}
}
