package main

import (
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// TestProgressBarOnTerminal runs the program (this test binary acting as
// pubexport, see TestMain) under a pseudo-terminal,
// as a person would, and checks that the progress is drawn as bars (with
// the counters and the bar's brackets) and that the results still follow.
func TestProgressBarOnTerminal(t *testing.T) {
	bin, asMain := selfAsMain(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--to", dir)
	cmd.Dir = dir
	cmd.Env = []string{"TERM=xterm", "HOME=" + dir, asMain}
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	io.Copy(&out, f) // until the process exits (EIO on Linux)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pubexport run on a terminal: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"Offline:", "developers", "apps", "apiproducts", "records", "pages", "done", "ExportFinal_", "manifest: "} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, s)
		}
	}
	// A bar is drawn between its brackets with mpb's fill ("[====>---]");
	// plain log lines ("developers: done, ...") are the non-terminal form.
	// Cursor control (mpb moving up between frames) is not asked for: the
	// sample organization can finish before a second frame is drawn.
	// mpb's bar: its brackets around cells of fill, tip or padding.
	drawnBar := regexp.MustCompile(`\[[=>\-]{8,}\]`)
	if !drawnBar.MatchString(s) {
		t.Errorf("no bar drawn on a terminal: not a live display:\n%q", s)
	}
	if strings.Contains(s, "developers: done,") {
		t.Errorf("log-line progress on a terminal:\n%s", s)
	}
}
