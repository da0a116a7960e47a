package apigee

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBody: a body is read whole whatever its announced length or the
// size guessed from the last page, in one buffer when the length is
// announced, and a read error is returned.
func TestReadBody(t *testing.T) {
	body := []byte(strings.Repeat("0123456789", 10_000))
	n := len(body)
	cases := []struct {
		contentLength int64
		hint          int
	}{
		{-1, 0}, {-1, 1}, {-1, n / 2}, {-1, n - 1}, {-1, n}, {-1, 3 * n},
		{int64(n), 0}, {int64(n), n / 2},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("length=%d,hint=%d", c.contentLength, c.hint), func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(body), iotest.HalfReader(bytes.NewReader(body)), iotest.DataErrReader(bytes.NewReader(body))} {
				got, err := readBody(r, c.contentLength, c.hint)
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("read %d bytes (%v), want the %d of the body", len(got), err, n)
				}
				if c.contentLength == int64(n) && cap(got) != n+1 {
					t.Errorf("an announced length of %d gave a buffer of %d bytes, want %d", n, cap(got), n+1)
				}
			}
		})
	}
	broken := errors.New("connection reset")
	if _, err := readBody(io.MultiReader(bytes.NewReader(body), iotest.ErrReader(broken)), -1, n); !errors.Is(err, broken) {
		t.Errorf("a body cut by %v read with error %v", broken, err)
	}
}
