package export

import "time"

// Object is one published object of an export.
type Object struct {
	Name        string `json:"name"`
	URI         string `json:"uri"`
	Size        int64  `json:"size"`
	Records     int64  `json:"records"`
	SHA256      string `json:"sha256"`
	CRC32C      uint32 `json:"crc32c"`
	ContentType string `json:"contentType,omitempty"`
	// Existed is true when an object with the same content (and so the same
	// name) was already there: a rerun of an unchanged organization.
	Existed bool `json:"existed,omitempty"`
}

// Result describes a finished export.
type Result struct {
	Objects  []Object
	Manifest Object
	// Schema is the BigQuery table schema of NDJSON and Parquet exports.
	Schema          Object
	Records         int64
	Pages           int64
	Duplicates      int64
	Unknown         int64
	Warnings        []string // see Progress.Warnings
	SecretsIncluded bool
	Started         time.Time
	Finished        time.Time
}
