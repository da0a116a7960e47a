package echo

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValue(t *testing.T) {
	if got := Value("short"); got != "short" {
		t.Errorf("Value(short) = %q", got)
	}
	long := strings.Repeat("é", 500_000) // 1,000,000 bytes
	got := Value(long)
	if len(got) > MaxValue+32 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...(1000000 bytes)") {
		t.Errorf("Value of 1 MB: %d bytes, valid %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-20:])
	}
	if got := Message(long); len(got) > MaxMessage+32 || !utf8.ValidString(got) {
		t.Errorf("Message of 1 MB: %d bytes", len(got))
	}
	exact := strings.Repeat("a", MaxValue)
	if Value(exact) != exact {
		t.Errorf("a value of exactly MaxValue bytes was cut")
	}
}
