package apigee

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestMergeWarnings: equal texts add up, the result is sorted and
// bounded, and the list merged into is left as it was.
func TestMergeWarnings(t *testing.T) {
	a := []Warning{{Text: "b", Count: 2}, {Text: "c"}}
	got := MergeWarnings(a, []Warning{{Text: "b", Count: 3}, {Text: "a", Count: 1}})
	want := []Warning{{Text: "a", Count: 1}, {Text: "b", Count: 5}, {Text: "c"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if a[0].Count != 2 {
		t.Fatal("the list merged into was modified")
	}
	if s := got[0].String(); s != "a (1 time)" {
		t.Errorf("String %q", s)
	}
	if s := (Warning{Text: "x", Count: 12000}).String(); s != "x (12,000 times)" {
		t.Errorf("String %q", s)
	}
	var many []Warning
	for i := range 300 {
		many = MergeWarnings(many, []Warning{{Text: fmt.Sprint("w", i), Count: 1}})
	}
	if len(many) > maxWarnings+1 {
		t.Errorf("%d warnings kept", len(many))
	}
	var sum int64
	for _, w := range many {
		sum += w.Count
	}
	if sum != 300 {
		t.Errorf("counts add up to %d, want 300", sum)
	}
}

// TestCheckTotal: apps read against the API's totalSize.
func TestCheckTotal(t *testing.T) {
	if _, ok := CheckTotal(Apps, 100, 100, false); ok {
		t.Error("warned on equal counts")
	}
	if _, ok := CheckTotal(Developers, 5, 9, false); ok {
		t.Error("warned for developers, which have no totalSize")
	}
	if _, ok := CheckTotal(Apps, 5, -1, false); ok {
		t.Error("warned without a total")
	}
	w, ok := CheckTotal(Apps, 1995, 2000, false)
	if !ok || !strings.HasPrefix(w.Text, "read 1,995 apps, 5 fewer than the 2,000 the Apigee API reported") {
		t.Errorf("%v %q", ok, w.Text)
	}
	w, ok = CheckTotal(Apps, 1995, 2000, true)
	if !ok || !strings.Contains(w.Text, "counts every app of the organization") || !strings.Contains(w.Text, "apps without keys") {
		t.Errorf("%v %q", ok, w.Text)
	}
}
