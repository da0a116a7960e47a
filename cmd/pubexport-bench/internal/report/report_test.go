package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTableAndJSONCarryTheSameRows(t *testing.T) {
	r := New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	r.Section("wall")
	r.Add(Row{Section: "wall", Case: "developers 100k", Value: 4, Unit: Second, Reference: 2, ReferenceName: "paging floor"})
	r.Add(Row{Section: "encode", Case: "apps json", Value: 123456.7, Unit: RecordsPerS})
	r.Skip("rss", "1M csv", "time budget")
	r.Note("ratio = value / reference")

	var tab bytes.Buffer
	if err := r.WriteTable(&tab); err != nil {
		t.Fatal(err)
	}
	out := tab.String()
	for _, want := range []string{"4.00 s", "2.00 s paging floor", "2.00x", "123,457 rec/s", "skipped", "time budget", "* ratio = value / reference"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse: %v\n%s", err, js.String())
	}
	if len(back.Rows) != 3 || back.Rows[0].Ratio != 2 || back.Rows[2].Skipped != "time budget" {
		t.Errorf("JSON rows = %+v", back.Rows)
	}
}

func TestUnitFormat(t *testing.T) {
	for _, c := range []struct {
		u    Unit
		v    float64
		want string
	}{
		{KiB, 2048, "2.0 MiB"},
		{Millisecond, 1.234, "1.23 ms"},
		{RequestsPerS, 1234567, "1,234,567 req/s"},
		{Count, -1000, "-1,000"},
		{MBPerS, 12.345, "12.3 MB/s"},
	} {
		if got := c.u.Format(c.v); got != c.want {
			t.Errorf("%s.Format(%v) = %q, want %q", c.u, c.v, got, c.want)
		}
	}
}
