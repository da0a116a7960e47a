package testdata

import (
	"encoding/json"
	"testing"
)

// TestSampleOrgIsSeedJSON checks the embedded file is the seed format with
// one organization; the emulator package tests its records in depth.
func TestSampleOrgIsSeedJSON(t *testing.T) {
	var seed struct {
		Organizations []struct {
			Name        string            `json:"name"`
			Developers  []json.RawMessage `json:"developers"`
			Apps        []json.RawMessage `json:"apps"`
			APIProducts []json.RawMessage `json:"apiProducts"`
		} `json:"organizations"`
	}
	if err := json.Unmarshal(SampleOrg, &seed); err != nil {
		t.Fatal(err)
	}
	if len(seed.Organizations) != 1 || seed.Organizations[0].Name != "acme" || len(seed.Organizations[0].Apps) == 0 {
		t.Fatalf("sample-org.json holds %d organizations, want acme with records", len(seed.Organizations))
	}
}
