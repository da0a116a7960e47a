package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"time"

	"pubexport/export/apigee"
	"pubexport/export/sink"
	"pubexport/formats"
)

// ManifestPrefix starts the name of every manifest object.
const ManifestPrefix = "ExportManifest_"

// Manifest describes one export next to its objects, so that a reader (or a
// load job) learns what the objects hold without opening them.
type Manifest struct {
	Organization string   `json:"organization"`
	Resource     string   `json:"resource"`
	Format       string   `json:"format"`
	Compression  string   `json:"compression"`
	Schema       []string `json:"schema"`
	// BigQuerySchema is the table schema of NDJSON and Parquet exports.
	BigQuerySchema  *Object   `json:"bigquerySchema,omitempty"`
	Objects         []Object  `json:"objects"`
	Records         int64     `json:"records"`
	Pages           int64     `json:"pages"`
	Duplicates      int64     `json:"duplicatesSkipped"`
	UnknownFields   int64     `json:"unknownFieldsIgnored"`
	Warnings        []string  `json:"warnings,omitempty"`
	SecretsIncluded bool      `json:"secretsIncluded"`
	Source          string    `json:"source"`
	StartTime       time.Time `json:"startTime"`
	EndTime         time.Time `json:"endTime"`
}

func (x *run) manifest(res *Result) Manifest {
	base := x.spec.ApigeeURL
	if base == "" {
		base = apigee.DefaultBaseURL
	}
	var bq *Object
	if res.Schema.Name != "" {
		bq = &res.Schema
	}
	return Manifest{
		BigQuerySchema:  bq,
		Organization:    x.spec.Org,
		Resource:        string(x.spec.Resource),
		Format:          string(x.spec.Format),
		Compression:     string(x.spec.Compression),
		Schema:          formats.Columns(x.spec.Format, x.md),
		Objects:         res.Objects,
		Records:         res.Records,
		Pages:           res.Pages,
		Duplicates:      res.Duplicates,
		UnknownFields:   res.Unknown,
		Warnings:        res.Warnings,
		SecretsIncluded: res.SecretsIncluded,
		Source:          strings.TrimSuffix(apigee.RedactURL(base), "/") + "/v1/" + x.spec.Target(),
		StartTime:       res.Started,
		EndTime:         res.Finished,
	}
}

// writeManifest publishes the manifest as ExportManifest_<sha256>.json,
// through the same staging-then-publish path as the data.
func (x *run) writeManifest(ctx context.Context, res *Result) (Object, error) {
	body, err := json.MarshalIndent(x.manifest(res), "", "  ")
	if err != nil {
		return Object{}, fmt.Errorf("encoding the manifest: %w", err)
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	name := ManifestPrefix + sha + ".json"
	staging := x.stagingName("manifest")
	w, err := x.r.Bucket.NewWriter(ctx, staging, sink.Attrs{ContentType: "application/json"})
	if err != nil {
		return Object{}, fmt.Errorf("creating the manifest: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		w.Abort()
		return Object{}, fmt.Errorf("writing the manifest: %w", err)
	}
	if _, err := w.Close(); err != nil {
		return Object{}, fmt.Errorf("writing the manifest: %w", err)
	}
	attrs := sink.Attrs{ContentType: "application/json", Metadata: map[string]string{
		"pubexport-organization": x.spec.Org,
		"pubexport-resource":     string(x.spec.Resource),
		"pubexport-records":      fmt.Sprint(res.Records),
	}}
	if _, _, err := x.r.Bucket.Publish(ctx, staging, name, attrs); err != nil {
		return Object{}, fmt.Errorf("publishing the manifest: %w", err)
	}
	if err := x.r.Bucket.Delete(ctx, staging); err != nil {
		return Object{}, fmt.Errorf("deleting the staging manifest: %w", err)
	}
	return Object{
		Name: name, URI: x.r.Bucket.URI(name), Size: int64(len(body)), Records: res.Records,
		SHA256: sha, CRC32C: crc32.Checksum(body, castagnoli), ContentType: "application/json",
	}, nil
}

// ReadManifests returns the manifests under the bucket's prefix, newest
// first, reading at most limit of them.
func ReadManifests(ctx context.Context, b sink.Bucket, limit int) ([]Manifest, error) {
	infos, err := b.List(ctx, ManifestPrefix)
	if err != nil {
		return nil, fmt.Errorf("listing manifests: %w", err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Created.After(infos[j].Created) })
	if len(infos) > limit {
		infos = infos[:limit]
	}
	var out []Manifest
	for _, info := range infos {
		r, err := b.NewReader(ctx, info.Name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", info.Name, err)
		}
		body, err := io.ReadAll(io.LimitReader(r, 16<<20))
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", info.Name, err)
		}
		var m Manifest
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&m); err != nil {
			continue // not one of ours, or damaged: it cannot help
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].EndTime.After(out[j].EndTime) })
	return out, nil
}

// previousTotal is the record count of the newest earlier export of the same
// resource of the same organization, or -1. It lets progress show a
// percentage where Apigee reports no total; it is an estimate from a real
// count, never a guess.
func previousTotal(ctx context.Context, b sink.Bucket, spec Spec) int64 {
	ms, err := ReadManifests(ctx, b, 20)
	if err != nil {
		return -1
	}
	for _, m := range ms {
		if m.Organization == spec.Org && m.Resource == string(spec.Resource) {
			return m.Records
		}
	}
	return -1
}
