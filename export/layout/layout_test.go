package layout

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	v := Values{Org: "acme", Resource: "apps", Operation: "0190e3c4", Time: time.Date(2026, 12, 3, 23, 4, 5, 0, time.FixedZone("CET", 3600))}
	for dest, want := range map[string]string{
		"gs://b/apigee/{resource}/{date}":             "gs://b/apigee/apps/2026-12-03",
		"gs://b/{org}/{resource}/{date}T{time}":       "gs://b/acme/apps/2026-12-03T220405",
		"file:///x/{operation}":                       "file:///x/0190e3c4",
		"gs://b/apigee":                               "gs://b/apigee",
		"gs://b/apigee/{resource}-{resource}/{date}/": "gs://b/apigee/apps-apps/2026-12-03/",
	} {
		if err := Validate(dest); err != nil {
			t.Errorf("Validate(%q): %v", dest, err)
		}
		if got := Expand(dest, v); got != want {
			t.Errorf("Expand(%q) = %q, want %q", dest, got, want)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	for dest, want := range map[string]string{
		"gs://b/apigee/{dat}":      "unknown placeholder {dat}",
		"gs://b/apigee/{date":      `"{" without its "}"`,
		"gs://b/apigee/date}":      `"}" without its "{"`,
		"gs://{org}-exports/x":     "bucket name",
		"gs://b/{Resource}":        "unknown placeholder {Resource}",
		"file:///tmp/{resource/x}": "unknown placeholder {resource/x}",
	} {
		err := Validate(dest)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%q) = %v, want an error with %q", dest, err, want)
		}
	}
}

func TestRoot(t *testing.T) {
	for dest, want := range map[string]string{
		"gs://b/apigee/{resource}/{date}": "gs://b/apigee",
		"gs://b/{resource}":               "gs://b",
		"gs://b/apigee-{org}/x":           "gs://b",
		"gs://b/apigee/":                  "gs://b/apigee",
		"file:///tmp/exp/{date}":          "file:///tmp/exp",
		"file:///{date}":                  "file:///",
	} {
		if got := Root(dest); got != want {
			t.Errorf("Root(%q) = %q, want %q", dest, got, want)
		}
	}
}
