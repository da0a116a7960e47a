package apigee

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestSpilledEntryChecks: an entry reads back as written; a chunk that ends
// between entries ends cleanly (io.EOF); one cut inside an entry, with a
// byte changed, or whose length claims more than the limit is damage, never
// a page, and claims no memory it names.
func TestSpilledEntryChecks(t *testing.T) {
	cur := passCursor(2, "tok-7")
	body := []byte(`{"app":[{"appId":"a1","name":"one"}],"nextPageToken":"tok-8"}`)
	var buf bytes.Buffer
	n, err := writeEntry(&buf, cur, body)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("writeEntry: %d bytes, %v; wrote %d", n, err, buf.Len())
	}
	entry := buf.Bytes()
	read := func(b []byte, limit int64) (Cursor, []byte, error) {
		return readEntry(bufio.NewReader(bytes.NewReader(b)), limit)
	}

	at, got, err := read(entry, 1<<20)
	if err != nil || at != cur || !bytes.Equal(got, body) {
		t.Fatalf("read back %+v %q %v, want %+v %q", at, got, err, cur, body)
	}
	br := bufio.NewReader(bytes.NewReader(append(append([]byte(nil), entry...), entry...)))
	for i := range 2 {
		if _, _, err := readEntry(br, 1<<20); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if _, _, err := readEntry(br, 1<<20); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last entry: %v, want io.EOF", err)
	}

	for cut := 1; cut < len(entry); cut++ {
		if _, _, err := read(entry[:cut], 1<<20); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("cut at %d of %d: %v, want damage", cut, len(entry), err)
		}
	}
	for i := range entry {
		bad := append([]byte(nil), entry...)
		bad[i] ^= 0x20
		if at, got, err := read(bad, 1<<20); err == nil && (at != cur || !bytes.Equal(got, body)) {
			t.Fatalf("byte %d changed: read %+v %q as a page", i, at, got)
		}
	}
	if _, _, err := read(entry, int64(len(body)-1)); err == nil {
		t.Fatal("a body over the limit was read")
	}
}
