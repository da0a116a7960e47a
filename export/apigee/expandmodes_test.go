package apigee_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestDevelopersExpandModes lists 2,500 developers from an API that
// treats expand next to count and startKey in each way its reference
// allows: honouring it, ignoring it with count (the listing falls back to
// expand=true&startKey without count and says so), ignoring it with
// startKey too, or refusing it with 400 (no way to page expanded
// developers: FAILED_PRECONDITION, nothing incomplete exported).
func TestDevelopersExpandModes(t *testing.T) {
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 2500, Seed: 12})
	want := records(data.Orgs[0].Developers)
	for _, c := range []struct {
		mode     emulator.ExpandMode
		ok       bool
		fallback bool
	}{
		{emulator.ExpandHonoured, true, false},
		{emulator.ExpandIgnoredWithCount, true, true},
		{emulator.ExpandIgnoredWithStartKey, false, false},
		{emulator.ExpandRejected, false, false},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			emu := exporttest.Emulator(t, data, emulator.Options{DeveloperExpand: c.mode})
			l := exporttest.ApigeeClient(t, emu).List("acme", apigee.Developers, apigee.Cursor{})
			var got []*apigee.Page
			var n int
			for {
				p, err := l.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if c.ok {
						t.Fatal(err)
					}
					if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "list-then-get") {
						t.Fatalf("got %v, want FAILED_PRECONDITION naming list-then-get", err)
					}
					for _, p := range got {
						for _, r := range p.Records {
							if r.(*apigeepb.Developer).GetDeveloperId() == "" {
								t.Fatalf("an unexpanded developer was returned: %v", r)
							}
						}
					}
					return
				}
				got = append(got, p)
				n += len(p.Records)
			}
			if !c.ok {
				t.Fatalf("listed %d developers, want FAILED_PRECONDITION", n)
			}
			var gotRecs []proto.Message
			var warned bool
			for _, p := range got {
				gotRecs = append(gotRecs, p.Records...)
				for _, w := range p.Warnings {
					warned = warned || strings.Contains(w.Text, "expand=true and startKey only")
				}
			}
			if warned != c.fallback {
				t.Errorf("fallback warning %v, want %v", warned, c.fallback)
			}
			checkSameRecords(t, apigee.Developers, gotRecs, want)
		})
	}
}
