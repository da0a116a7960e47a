// Package bqcheck holds only a test: DuckDB, an independent reader, reads
// every NDJSON and Parquet export of every resource with the column names
// and types of the BigQuery schema the export wrote beside its manifest.
//
// It is a package of its own because DuckDB comes through cgo
// (github.com/duckdb/duckdb-go/v2 with its prebuilt static library): only
// this package's test pays for linking it, and the rest of the suite does
// not wait for it.
package bqcheck
