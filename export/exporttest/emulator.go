package exporttest

import (
	"context"
	"testing"

	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
)

// Emulator serves data (emulator.Sample() for the bundled organization,
// emulator.Generate for a seeded one) with o until the test ends.
func Emulator(t testing.TB, data *emulator.Data, o emulator.Options) *emulator.Server {
	t.Helper()
	emu, err := emulator.Start(data, o)
	if err != nil {
		t.Fatalf("starting the Apigee emulator: %v", err)
	}
	t.Cleanup(emu.Close)
	return emu
}

// ApigeeClient is an Apigee client for emu, without authentication; opts
// come after those and may override them (retries, timeouts).
func ApigeeClient(t testing.TB, emu *emulator.Server, opts ...apigee.Option) *apigee.Client {
	t.Helper()
	opts = append([]apigee.Option{apigee.WithBaseURL(emu.URL), apigee.WithoutAuthentication()}, opts...)
	c, err := apigee.NewClient(context.Background(), opts...)
	if err != nil {
		t.Fatalf("an Apigee client for the emulator: %v", err)
	}
	return c
}
