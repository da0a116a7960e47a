package apigee_test

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
)

// TestAppsResumeExpiredToken: a listing resumed from a checkpoint whose
// apps page token the API no longer accepts (the emulator expires every
// token minted so far, as a server whose tokens live a limited time
// would) finishes with every app exactly once: the refused token's pass
// goes on by appId from the cursor's last app or, for a cursor without one
// (a checkpoint older than that field), is read again from its start;
// with the passes read at once, the later passes' readers resume from
// their own, refused, tokens too.
func TestAppsResumeExpiredToken(t *testing.T) {
	data, _ := shiftData(45, 600)
	for _, tc := range []struct {
		name     string
		parallel bool
		anchor   bool
		warn     string
	}{
		{"by appId/one request at a time", false, true, "went on by appId"},
		{"by appId/passes at once", true, true, "went on by appId"},
		{"no anchor/one request at a time", false, false, "again from its start"},
		{"no anchor/passes at once", true, false, "again from its start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Encoded tokens: a plain index token has no lifetime to end.
			emu := exporttest.Emulator(t, data, emulator.Options{AppsPaging: emulator.AppsEncodedIndexTokens})
			c := exporttest.ApigeeClient(t, emu, apigee.WithPageSize(shiftPageSize))
			spill := dirSpill{t.TempDir()}
			seed := apigee.NewKeySeed()
			l := c.List("acme", apigee.Apps, apigee.Cursor{})
			if tc.parallel {
				l.ReadAhead(4, spill, nil)
			}
			l.TrackKeys(seed)
			var got []proto.Message
			var at apigee.Cursor
			var spilled *apigee.Spilled
			for range 3 {
				p, err := l.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, p.Records...)
				at, spilled = p.Next, p.Spilled
			}
			hashes := l.TakeNewKeys()
			l.Close()
			if at.PageToken == "" {
				t.Fatalf("cursor %+v holds no page token: the test would not test", at)
			}
			if !tc.anchor {
				at.After = ""
			}
			emu.ExpirePageTokens()
			// Through JSON, as a checkpoint keeps them.
			at, spilled = viaJSON(t, at), viaJSON(t, spilled)
			l = c.List("acme", apigee.Apps, at)
			if tc.parallel {
				l.ReadAhead(4, spill, spilled)
			}
			defer l.Close()
			l.TrackKeys(seed)
			l.Seen(hashes)
			rest, ws := listRest(t, l)
			got = append(got, rest...)
			checkSameRecords(t, apigee.Apps, got, allApps(data))
			if !hasWarningText(ws, "refused a page token") || !hasWarningText(ws, tc.warn) {
				t.Errorf("warnings %v do not say the refused token's listing %s", ws, tc.warn)
			}
		})
	}
}

func viaJSON[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
