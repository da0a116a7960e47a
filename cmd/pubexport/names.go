package main

import (
	"strings"

	"pubexport/export/apigee"
	"pubexport/formats"
)

// The values a user chooses from, listed from the packages that define
// them (apigee.Resources, formats.Formats), so that help texts and errors
// never drift from what is accepted.

// resourceNames is "developers, apps or apiproducts", with extra choices
// (such as "all") at the end.
func resourceNames(extra ...string) string {
	var names []string
	for _, r := range apigee.Resources() {
		names = append(names, string(r))
	}
	return orList(append(names, extra...))
}

// formatNames is "json, ndjson, csv or parquet".
func formatNames() string {
	var names []string
	for _, f := range formats.Formats() {
		names = append(names, string(f))
	}
	return orList(names)
}

// orList joins "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
