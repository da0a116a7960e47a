package field

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEcho(t *testing.T) {
	if got := Echo("short"); got != "short" {
		t.Errorf("Echo(short) = %q", got)
	}
	long := strings.Repeat("é", 500_000) // 1,000,000 bytes
	got := Echo(long)
	if len(got) > MaxEcho+32 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...(1000000 bytes)") {
		t.Errorf("Value of 1 MB: %d bytes, valid %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-20:])
	}
	if got := EchoMessage(long); len(got) > MaxMessage+32 || !utf8.ValidString(got) {
		t.Errorf("Message of 1 MB: %d bytes", len(got))
	}
	exact := strings.Repeat("a", MaxEcho)
	if Echo(exact) != exact {
		t.Errorf("a value of exactly MaxEcho bytes was cut")
	}
}
