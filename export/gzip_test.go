package export_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink/gcstest"
	"pubexport/formats"
)

// TestGzipObjectsDownloadAsNamed exports gzipped text formats to Cloud
// Storage and downloads each object as users do: with the storage client's
// default reader, and with a plain HTTP GET from a client that asks for
// gzip. Both must get the stored bytes, hashing to the object's
// ExportFinal_<sha256> name. That holds only without Content-Encoding: gzip,
// which makes Cloud Storage (and the emulator) decompress on the way out.
func TestGzipObjectsDownloadAsNamed(t *testing.T) {
	e := newEnv(t, emulator.GenerateSpec{Developers: 40, Apps: 60, APIProducts: 5, Seed: 3}, emulator.Options{})
	srv := gcstest.Start(t, "exports")
	for _, f := range []formats.Format{formats.JSON, formats.NDJSON, formats.CSV} {
		t.Run(string(f), func(t *testing.T) {
			dest := "gs://exports/gzip/" + string(f)
			spec := e.spec(apigee.Apps, f, dest)
			spec.Compression = formats.Gzip
			res, err := e.run(context.Background(), openGCS(t, srv, dest), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			o := res.Objects[0]
			if o.ContentType != "application/gzip" {
				t.Errorf("result content type %q, want application/gzip", o.ContentType)
			}
			obj := srv.Client.Bucket("exports").Object("gzip/" + string(f) + "/" + o.Name)
			attrs, err := obj.Attrs(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if attrs.ContentType != "application/gzip" || attrs.ContentEncoding != "" {
				t.Errorf("stored with Content-Type %q, Content-Encoding %q; want application/gzip and none", attrs.ContentType, attrs.ContentEncoding)
			}
			if attrs.Metadata["pubexport-sha256"] != o.SHA256 {
				t.Errorf("metadata %v", attrs.Metadata)
			}
			rd, err := obj.NewReader(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(rd)
			rd.Close()
			if err != nil {
				t.Fatal(err)
			}
			if want := "ExportFinal_" + sha(body) + f.Extension(formats.Gzip); o.Name != want || int64(len(body)) != o.Size {
				t.Fatalf("storage client read %d bytes hashing to %s; the object is %s (%d bytes)", len(body), sha(body), o.Name, o.Size)
			}
			// A browser or curl --compressed: asks for gzip, and Go's
			// transport undoes a Content-Encoding it asked for.
			link := srv.URL + "/exports/gzip/" + string(f) + "/" + o.Name
			resp, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %v", link, resp.StatusCode, err)
			}
			if sha(got) != o.SHA256 {
				t.Fatalf("HTTP download: %d bytes hashing to %s, want the object's %d bytes (%s)", len(got), sha(got), o.Size, o.SHA256)
			}
			// The manifest still says what is inside.
			mr, err := srv.Client.Bucket("exports").Object("gzip/" + string(f) + "/" + res.Manifest.Name).NewReader(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer mr.Close()
			var m struct {
				Format, Compression string
				Objects             []struct{ ContentType string }
			}
			if err := json.NewDecoder(mr).Decode(&m); err != nil {
				t.Fatal(err)
			}
			if m.Format != string(f) || m.Compression != "gzip" || len(m.Objects) != 1 || m.Objects[0].ContentType != "application/gzip" {
				t.Fatalf("manifest %+v", m)
			}
		})
	}
}
