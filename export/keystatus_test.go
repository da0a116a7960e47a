package export_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/formats"
)

// TestAppsWithOnlyRevokedKeysExported: the apps list filters on keyStatus
// as well as status, both defaulting to approved (apigee-api.md §7.3,
// pitfall 10), so an app whose keys are all revoked is listed only with
// keyStatus=revoked. Every app must be exported exactly once, whether it
// is approved or revoked, has only revoked keys, mixed keys or none, under
// each reading of where the API lists keyless apps.
func TestAppsWithOnlyRevokedKeysExported(t *testing.T) {
	t.Parallel() // among the slowest: they run together after the rest
	gen := emulator.GenerateSpec{Developers: 30, Apps: 700, APIProducts: 5, Seed: 21}
	kinds := map[string]int{}
	for _, a := range emulator.Generate(gen).Orgs[0].Apps {
		var ap, rv bool
		for _, c := range a.GetCredentials() {
			ap, rv = ap || c.GetStatus() == "approved", rv || c.GetStatus() == "revoked"
		}
		kind := a.GetStatus() + "/"
		switch {
		case !ap && !rv:
			kind += "keyless"
		case ap && rv:
			kind += "mixed"
		case rv:
			kind += "revoked keys"
		default:
			kind += "approved keys"
		}
		kinds[kind]++
	}
	for _, k := range []string{"approved/revoked keys", "revoked/revoked keys", "approved/mixed", "approved/keyless"} {
		if kinds[k] == 0 {
			t.Fatalf("the generated org has no %s app (%v); pick another seed", k, kinds)
		}
	}
	for _, mode := range []emulator.KeylessMode{emulator.KeylessApproved, emulator.KeylessEvery, emulator.KeylessRevoked} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t, gen, emulator.Options{KeylessApps: mode})
			dir := t.TempDir()
			res, err := e.run(context.Background(), openLocal(t, dir), e.spec(apigee.Apps, formats.JSON, "file://"+dir), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(filepath.Join(dir, res.Objects[0].Name))
			if err != nil {
				t.Fatal(err)
			}
			checkJSONRecords(t, apigee.Apps, body, e.data.Orgs[0])
			if res.Duplicates != 0 {
				t.Fatalf("%d duplicates: an app listed by two passes by design is not a duplicate", res.Duplicates)
			}
			for _, w := range res.Warnings {
				t.Errorf("warning %q on an org whose totals add up", w)
			}
		})
	}
}
