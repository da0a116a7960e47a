package bytesize

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "64MiB": 64 << 20, "64mib": 64 << 20, "64 MiB": 64 << 20,
		"1GB": 1e9, "1gb": 1e9, "1GiB": 1 << 30, "1.5GiB": 3 << 29, "512KB": 512000, "2K": 2048,
		"10B": 10, "3T": 3 << 40, " 7M ": 7 << 20, "0.5KiB": 512,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":           "not a size",
		"MiB":        "not a size",
		"-1":         "not a size",
		"12XB":       "unknown unit",
		"1.2.3MiB":   "not a number",
		"0.3B":       "whole number",
		"9999999TiB": "too large",
		"1e9":        "unknown unit",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q) error = %v, want one containing %q", in, err, msg)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1024, 64 << 20, 1 << 30, 1e9, 5 << 40, 1<<20 + 1} {
		s := Format(n)
		back, err := Parse(s)
		if err != nil || back != n {
			t.Errorf("Parse(Format(%d) = %q) = %d, %v", n, s, back, err)
		}
	}
	if got := Format(64 << 20); got != "64MiB" {
		t.Errorf("Format(64MiB) = %q", got)
	}
	var v Value
	if err := v.Set("2GiB"); err != nil || int64(v) != 2<<30 || v.String() != "2GiB" || v.Type() != "size" {
		t.Errorf("Value = %d %q %v", v, v.String(), err)
	}
}
