// Package bytesize parses and prints byte counts the way people type them on
// a command line or in an environment variable: 64MiB, 1GB, 1.5GiB, 1048576.
package bytesize

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Units: the SI ones are powers of 1000 and the IEC ones powers of 1024, as
// their names say (gsutil and bq follow the same rule). A bare K, M, G or T
// is taken as the IEC unit, as in Kubernetes and `ls -h` output.
var units = map[string]int64{
	"":    1,
	"b":   1,
	"k":   1 << 10,
	"kb":  1000,
	"kib": 1 << 10,
	"m":   1 << 20,
	"mb":  1000 * 1000,
	"mib": 1 << 20,
	"g":   1 << 30,
	"gb":  1000 * 1000 * 1000,
	"gib": 1 << 30,
	"t":   1 << 40,
	"tb":  1000 * 1000 * 1000 * 1000,
	"tib": 1 << 40,
}

// Parse reads a byte count: a number (integer or decimal) and an optional
// unit, case-insensitive, with optional space between: "64MiB", "1 GB",
// "1.5gib", "1048576". It rejects negative and fractional-byte results.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("%q is not a size: want a number and an optional unit, such as 64MiB, 1GB or 1048576", s)
	}
	mul, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q: use B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)", s, t[i:])
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mul {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return n * mul, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %q is not a number", s, num)
	}
	v := f * float64(mul)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return int64(v), nil
}

// Format prints n with the largest IEC unit that divides it exactly, so that
// Parse(Format(n)) == n: 67108864 -> "64MiB", 1000 -> "1000".
func Format(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// Value is a pflag.Value (and flag.Value) holding a byte count.
type Value int64

// String implements flag.Value.
func (v *Value) String() string { return Format(int64(*v)) }

// Set implements flag.Value.
func (v *Value) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	*v = Value(n)
	return nil
}

// Type implements pflag.Value; it names the argument in --help.
func (v *Value) Type() string { return "size" }
