package apigee

import (
	"maps"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/internal/pagejson"
)

// TestPageTokenDoesNotPinPage checks that the nextPageToken of a decoded
// apps page is its own string: the listing keeps every token it followed,
// and a token pointing into the page's text kept each whole page alive
// (~0.9 MB per 1000 apps, 87 MiB at 100k apps).
func TestPageTokenDoesNotPinPage(t *testing.T) {
	text := `{"app":[{"appId":"a-1","name":"one","status":"approved"}],"nextPageToken":"token-2","totalSize":3}`
	p, err := decodeText(Apps, text)
	if err != nil {
		t.Fatal(err)
	}
	if p.nextToken != "token-2" || p.total != 3 || len(p.records) != 1 {
		t.Fatalf("decoded nextToken %q, total %d, %d records; want token-2, 3, 1", p.nextToken, p.total, len(p.records))
	}
	if aliases(p.nextToken, text) {
		t.Error("nextToken points into the page text, so keeping it keeps the whole page")
	}
}

// aliases reports whether s's bytes lie inside text's.
func aliases(s, text string) bool {
	if len(s) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.StringData(text)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= lo && p < lo+uintptr(len(text))
}

// TestUnknownOfDelivered: what the decoder ignored counts once per
// delivered record that had it, however often the record holds it (two
// keys with the same new field), nothing for a record the listing dropped,
// and once for what lay outside the records.
func TestUnknownOfDelivered(t *testing.T) {
	page := `{"app":[` +
		`{"appId":"a","credentials":[{"consumerKey":"k1","newKeyField":1},{"consumerKey":"k2","newKeyField":2}]},` +
		`{"appId":"b","newAppField":1},` +
		`{"appId":"c","newAppField":2}],"newPageField":true}`
	d, err := decodeText(Apps, page)
	if err != nil {
		t.Fatal(err)
	}
	got := d.unknownOf([]proto.Message{d.records[0], d.records[2]})
	want := pagejson.Unknown{
		{Path: "app.credentials.newKeyField"}: 1,
		{Path: "app.newAppField"}:             1,
		{Path: "newPageField"}:                1,
	}
	if !maps.Equal(got, want) {
		t.Fatalf("unknown %v, want %v", got, want)
	}
}
