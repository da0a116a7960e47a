package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"

	"pubexport/export/sink"
	"pubexport/formats"
	"pubexport/formats/bqschema"
)

// SchemaPrefix starts the name of the BigQuery table schema an NDJSON or
// Parquet export writes beside its manifest:
// BigQuerySchema_<sha256>.json, the JSON `bq load --schema` and
// `bq mk --table` take. The same records give the same schema, so every
// export of a resource in a format names the same object.
const SchemaPrefix = "BigQuerySchema_"

// writeSchema publishes the BigQuery schema of the export's records, for
// the formats BigQuery loads with nested and repeated fields; other formats
// get none (an empty Object).
func (x *run) writeSchema(ctx context.Context) (Object, error) {
	var style bqschema.Style
	switch x.spec.Format {
	case formats.NDJSON:
		style = bqschema.NDJSON
	case formats.Parquet:
		style = bqschema.Parquet
	default:
		return Object{}, nil
	}
	body, err := bqschema.JSON(bqschema.For(x.md, style))
	if err != nil {
		return Object{}, fmt.Errorf("encoding the BigQuery schema: %w", err)
	}
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	name := SchemaPrefix + sha + ".json"
	staging := x.stagingName("bigquery-schema")
	w, err := x.r.Bucket.NewWriter(ctx, staging, sink.Attrs{ContentType: "application/json"})
	if err != nil {
		return Object{}, fmt.Errorf("creating the BigQuery schema: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		w.Abort()
		return Object{}, fmt.Errorf("writing the BigQuery schema: %w", err)
	}
	if _, err := w.Close(); err != nil {
		return Object{}, fmt.Errorf("writing the BigQuery schema: %w", err)
	}
	attrs := sink.Attrs{ContentType: "application/json", Metadata: map[string]string{
		"pubexport-organization": x.spec.Org,
		"pubexport-resource":     string(x.spec.Resource),
		"pubexport-sha256":       sha,
	}}
	if _, _, err := x.r.Bucket.Publish(ctx, staging, name, attrs); err != nil {
		return Object{}, fmt.Errorf("publishing the BigQuery schema: %w", err)
	}
	if err := x.r.Bucket.Delete(ctx, staging); err != nil {
		x.log.Warn("could not delete the staging BigQuery schema", "object", staging, "error", err)
	}
	return Object{
		Name: name, URI: x.r.Bucket.URI(name), Size: int64(len(body)),
		SHA256: sha, CRC32C: crc32.Checksum(body, castagnoli), ContentType: "application/json",
	}, nil
}
