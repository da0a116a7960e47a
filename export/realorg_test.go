package export_test

import (
	"bytes"
	"compress/gzip"
	"context"
	stdcsv "encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/formats"
)

// TestRealWorldOrganization exports, in every format, an
// organization shaped like real ones where the emulator is only as kind as
// the documented API: company developers (hidden without includeCompany),
// app-group apps (no developer), API products with 150 operation paths
// (pages over the client's response cap, 2 MiB here, so the listing asks
// again with fewer products; the cap stays above a full page of apps or
// developers, so only the products' pages shrink), fields and enum
// values newer than these protos, an API that does not expand developers
// next to count, a quota spent for the first seconds and 429/503 faults
// throughout; and a second organization with no records at all. Every
// record arrives, in every object, and the warnings name what could not be
// kept.
func TestRealWorldOrganization(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	if testing.Short() {
		t.Skip("exports 2 organizations in 4 encodings")
	}
	// 56 products of ~45 KB are 2.5 MB, over the cap; 1000 apps of ~1.3 KB
	// (a full page) stay under it.
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 1300, Apps: 1100, APIProducts: 56, OperationPaths: 150, Seed: 77})
	org := data.Orgs[0]
	groupApps := 0
	for i, a := range org.Apps {
		if i%7 == 3 { // an app group's app: appGroup, no developer
			a.DeveloperEmail, a.DeveloperId = nil, nil
			a.AppGroup = proto.String(fmt.Sprintf("team-%d", i%5))
			groupApps++
		}
	}
	companies := 0
	for _, d := range org.Developers {
		if len(d.GetCompanies()) > 0 {
			companies++
		}
	}
	data.Orgs = append(data.Orgs, emulator.Generate(emulator.GenerateSpec{Org: "hollow"}).Orgs[0])
	var (
		mu          sync.Mutex
		productAsks []int // the count of every list request for acme's products
	)
	emu := exporttest.Emulator(t, data, emulator.Options{
		Intercept: func(_ http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/v1/organizations/acme/apiproducts" {
				n, _ := strconv.Atoi(r.URL.Query().Get("count"))
				mu.Lock()
				productAsks = append(productAsks, n)
				mu.Unlock()
			}
			return false
		},
		FutureFields:    true,
		DeveloperExpand: emulator.ExpandIgnoredWithCount,
		Throttle:        3 * time.Second,
		FaultRate:       0.05,
		FaultRetryAfter: -1, // the client's backoff: milliseconds, not a second a fault
	})
	c := exporttest.ApigeeClient(t, emu,
		apigee.WithRetry(0, time.Millisecond, 20*time.Millisecond), apigee.WithMaxResponse(2<<20))
	src := export.FromClient(c)

	want := map[apigee.Resource]map[string]proto.Message{}
	for _, r := range apigee.Resources() {
		want[r] = map[string]proto.Message{}
		for _, m := range sourceRecords(r, org) {
			if p, ok := m.(*apigeepb.ApiProduct); ok && p.GetQuotaCounterScope() == apigeepb.ApiProduct_PROXY {
				p = proto.CloneOf(p)
				p.QuotaCounterScope = nil // sent as API_SOURCE, unknown here
				m = p
			}
			want[r][r.Key(m)] = m
		}
	}
	if companies == 0 || groupApps == 0 {
		t.Fatal("no company developers or app-group apps")
	}

	// Every format once, compressed or not in turn: what is real-world
	// here is the records, whose shape each format handles its own way;
	// compression wraps the bytes alike whatever the records, and is
	// tested with every format in TestGzipObjectsDownloadAsNamed,
	// TestEmptyResourceEveryFormat and the resume tests (Parquet's codecs
	// in formats/parquet).
	encodings := []struct {
		f formats.Format
		c formats.Compression
	}{
		{formats.JSON, formats.Gzip}, {formats.NDJSON, formats.None},
		{formats.CSV, formats.Gzip}, {formats.Parquet, formats.None},
	}
	for _, enc := range encodings {
		for _, orgName := range []string{"acme", "hollow"} {
			for _, r := range apigee.Resources() {
				name := fmt.Sprintf("%s/%s/%s/%s", orgName, r, enc.f, enc.c)
				dir := t.TempDir()
				b := openLocal(t, dir)
				spec := export.Spec{Org: orgName, Resource: r, Format: enc.f, Compression: enc.c, Destination: "file://" + dir, ApigeeURL: emu.URL}
				res, err := (&export.Runner{Source: src, Bucket: b}).Run(context.Background(), spec)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				expect := want[r]
				if orgName == "hollow" {
					expect = nil
				}
				var keys []string
				for _, o := range res.Objects {
					body, err := os.ReadFile(filepath.Join(dir, o.Name))
					if err != nil {
						t.Fatal(err)
					}
					if enc.c == formats.Gzip && enc.f != formats.Parquet {
						zr, err := gzip.NewReader(bytes.NewReader(body))
						if err != nil {
							if len(body) == 0 {
								continue
							}
							t.Fatalf("%s: %v", name, err)
						}
						if body, err = io.ReadAll(zr); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
					}
					keys = append(keys, keysIn(t, name, r, enc.f, body, expect)...)
				}
				if int64(len(keys)) != res.Records || len(keys) != len(expect) {
					t.Fatalf("%s: %d records in the objects (result says %d), want %d", name, len(keys), res.Records, len(expect))
				}
				slices.Sort(keys)
				if len(slices.Compact(keys)) != len(expect) {
					t.Fatalf("%s: duplicate records", name)
				}
				for _, k := range keys {
					if expect[k] == nil {
						t.Fatalf("%s: record %q is not the organization's", name, k)
					}
				}
				if orgName == "acme" {
					checkRealWorldWarnings(t, name, r, res.Warnings)
				}
			}
		}
	}
	// The products' pages were over the cap: some page was asked for with
	// fewer records than the organization has.
	mu.Lock()
	defer mu.Unlock()
	if !slices.ContainsFunc(productAsks, func(n int) bool { return n > 1 && n < len(org.APIProducts) }) {
		t.Errorf("no products page was asked for with fewer than %d records (counts asked: %v): the pages never went over the cap", len(org.APIProducts), productAsks)
	}
}

// keysIn reads the keys of the records in one decoded object; JSON and
// NDJSON records are also compared whole with the source.
func keysIn(t *testing.T, name string, r apigee.Resource, f formats.Format, body []byte, want map[string]proto.Message) []string {
	t.Helper()
	var keys []string
	check := func(raw []byte) {
		m := r.New()
		if err := protojson.Unmarshal(raw, m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		k := r.Key(m)
		if w := want[k]; w == nil || !proto.Equal(m, w) {
			t.Fatalf("%s: record %q differs from the source", name, k)
		}
		keys = append(keys, k)
	}
	switch f {
	case formats.JSON:
		var list []json.RawMessage
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, raw := range list {
			check(raw)
		}
	case formats.NDJSON:
		for _, l := range strings.Split(string(body), "\n") {
			if l != "" {
				check([]byte(l))
			}
		}
	case formats.CSV:
		rows, err := stdcsv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		col := columnIndex(t, rows[0], keyField(r))
		for _, row := range rows[1:] {
			keys = append(keys, row[col])
		}
	case formats.Parquet:
		_, cols := readParquet(t, body)
		for _, v := range cols[keyField(r)] {
			keys = append(keys, fmt.Sprint(v))
		}
	}
	return keys
}

// checkRealWorldWarnings: the warnings name the unknown fields and enum
// value, and the developers' fallback from count.
func checkRealWorldWarnings(t *testing.T, name string, r apigee.Resource, ws []string) {
	t.Helper()
	var want [][]string
	switch r {
	case apigee.Developers:
		want = [][]string{{`"developer.futureField"`}, {"expand=true and startKey only"}}
	case apigee.Apps:
		want = [][]string{{`"app.futureField"`}}
	case apigee.APIProducts:
		want = [][]string{{`"apiProduct.futureField"`, "(56 times)"}, {`"API_SOURCE"`, `"apiProduct.quotaCounterScope"`}}
	}
	for _, w := range want {
		if !hasWarning(ws, w...) {
			t.Errorf("%s: no warning with %q in %q", name, w, ws)
		}
	}
}
