package main

import (
	"os"
	"testing"
)

// asMainEnv, set in a child's environment, makes the test binary run main
// instead of the tests: tests that need a real pubexport process (on a
// terminal, say) run this binary, already built with the suite's flags,
// rather than building the program again with other ones.
const asMainEnv = "PUBEXPORT_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		// The program refuses PUBEXPORT_ variables it does not read.
		os.Unsetenv(asMainEnv)
		main()
		return // main exits; this is never reached
	}
	os.Exit(m.Run())
}

// selfAsMain returns the path of this test binary and the environment entry
// that makes it behave as the pubexport program.
func selfAsMain(t *testing.T) (bin, env string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe, asMainEnv + "=1"
}
