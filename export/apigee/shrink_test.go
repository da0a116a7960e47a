package apigee_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// sizes records the page size (count or pageSize) of every list request.
type sizes struct {
	mu sync.Mutex
	n  []int
}

func (s *sizes) intercept(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	v := q.Get("count")
	if v == "" {
		v = q.Get("pageSize")
	}
	if n, err := strconv.Atoi(v); err == nil && q.Get("expand") == "true" {
		s.mu.Lock()
		s.n = append(s.n, n)
		s.mu.Unlock()
	}
	return false
}

func (s *sizes) get() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.n)
}

func records[M proto.Message](ms []M) []proto.Message {
	out := make([]proto.Message, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

// TestPageOverTheResponseCap: 1001 API products with 10 operation paths
// each (~3.8 KB apiece) make a full page of 1000 about 3.8 MB, over a
// 2.5 MiB cap. The listing asks again for 500 (about 1.9 MB), which fits,
// and exports every product. The cap is scaled down from the default
// 32 MiB (which 1000 products of 150 paths, ~45 KB, pass in the same way)
// so that the test moves 4 MB, not 45: the halving does not depend on the
// cap's size (TestOversizedResponse checks the default's message).
func TestPageOverTheResponseCap(t *testing.T) {
	t.Parallel()
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", APIProducts: 1001, OperationPaths: 10, Seed: 3})
	var s sizes
	emu := exporttest.Emulator(t, data, emulator.Options{Intercept: s.intercept})
	got, _ := listAll(t, exporttest.ApigeeClient(t, emu, apigee.WithMaxResponse(5<<19)), apigee.APIProducts)
	checkSameRecords(t, apigee.APIProducts, got, records(data.Orgs[0].APIProducts))
	// A request retried at the same size (a try that ran past its
	// timeout on a loaded machine) is not a step of the halving.
	if n := slices.Compact(s.get()); len(n) < 2 || n[0] != 1000 || n[1] != 500 {
		t.Fatalf("page sizes %v (retries at the same size merged), want 1000 then 500", n)
	}
}

// TestSmallerPagesUnderACap: with a small cap, pages of apps and products
// shrink until they fit and grow back later; every record is exported.
func TestSmallerPagesUnderACap(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Apps: 400, APIProducts: 400, Seed: 9})
	var s sizes
	emu := exporttest.Emulator(t, data, emulator.Options{Intercept: s.intercept})
	c := exporttest.ApigeeClient(t, emu, apigee.WithMaxResponse(60<<10))
	for _, r := range []apigee.Resource{apigee.Apps, apigee.APIProducts} {
		s.n = nil
		got, _ := listAll(t, c, r)
		want := records(data.Orgs[0].APIProducts)
		if r == apigee.Apps {
			want = records(data.Orgs[0].Apps)
		}
		checkSameRecords(t, r, got, want)
		n := slices.DeleteFunc(s.get(), func(n int) bool { return n == 1 }) // the apps probe
		if len(n) < 3 || n[0] != 1000 || slices.Min(n) >= 100 {
			t.Errorf("%s: page sizes %v, want 1000 halved below 100", r, n)
		}
	}
}

// TestSingleRecordOverTheCap: one API product larger than the cap on its
// own fails the listing with FAILED_PRECONDITION naming it and the cap.
func TestSingleRecordOverTheCap(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", APIProducts: 50, Seed: 4})
	big := emulator.Generate(emulator.GenerateSpec{Org: "acme", APIProducts: 1, OperationPaths: 150, Seed: 4})
	huge := data.Orgs[0].APIProducts[20]
	huge.OperationGroup = big.Orgs[0].APIProducts[0].OperationGroup
	emu := exporttest.Emulator(t, data, emulator.Options{})
	c := exporttest.ApigeeClient(t, emu, apigee.WithMaxResponse(32<<10))
	l := c.List("acme", apigee.APIProducts, apigee.Cursor{})
	n := 0
	for {
		p, err := l.Next(t.Context())
		if err != nil {
			if status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("got %v, want FAILED_PRECONDITION", err)
			}
			for _, want := range []string{"API product " + strconv.Quote(huge.GetName()), "32768 bytes"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "apigee-url") || strings.Contains(err.Error(), emu.URL) {
				t.Errorf("error %q blames the URL", err)
			}
			break
		}
		n += len(p.Records)
	}
	if n != 20 {
		t.Errorf("%d products before the failure, want the 20 before the huge one", n)
	}
}
