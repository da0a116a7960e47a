package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pubexport/export/apigee/emulator"
)

// TestBadFlagsExit2 checks each bad value is refused with exit code 2 and a
// message naming the flag.
func TestBadFlagsExit2(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"--generate", "developers=ten"}, "--generate"},
		{[]string{"--generate", "developers=-1"}, "--generate"},
		{[]string{"--generate", "users=5"}, "--generate"},
		{[]string{"--fault-rate", "1.5"}, "--fault-rate"},
		{[]string{"--fault-rate", "NaN"}, "--fault-rate"},
		{[]string{"--fault-rate", "lots"}, "-fault-rate"},
		{[]string{"--latency", "-1s"}, "--latency"},
		{[]string{"--latency", "fast"}, "-latency"},
		{[]string{"--rate-limit", "-5"}, "--rate-limit"},
		{[]string{"--addr", "8080"}, "--addr"},
		{[]string{"--org", "a/b", "--generate", "developers=1"}, "--org"},
		{[]string{"--data", "x.json", "--generate", "developers=1"}, "--generate"},
		{[]string{"--apps-paging", "cursor"}, "--apps-paging"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra"}, "extra"},
	} {
		var stderr bytes.Buffer
		if code := run(c.args, &stderr); code != 2 || !strings.Contains(stderr.String(), c.flag) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", c.args, code, stderr.String(), c.flag)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"--data", filepath.Join(t.TempDir(), "missing.json")}, &stderr); code != 1 || !strings.Contains(stderr.String(), "--data") {
		t.Errorf("missing --data file: exit %d, %q", code, stderr.String())
	}
}

func TestParseGenerate(t *testing.T) {
	cfg, err := parseFlags([]string{"--generate", "developers=2501, apps=3001,apiproducts=1201", "--org", "demo", "--seed", "9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := emulator.GenerateSpec{Org: "demo", Developers: 2501, Apps: 3001, APIProducts: 1201, Seed: 9}
	if *cfg.generate != want {
		t.Fatalf("spec %+v, want %+v", *cfg.generate, want)
	}

	cfg, err = parseFlags([]string{"--generate", "apiproducts=50", "--spaces", "--denied-spaces", "space-1,space-2", "--spaces-after-count", "--deny", "apigee.organizations.get"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.generate.Spaces || !cfg.opts.SpacesAfterCount || strings.Join(cfg.opts.DeniedSpaces, " ") != "space-1 space-2" || strings.Join(cfg.opts.Deny, " ") != "apigee.organizations.get" {
		t.Fatalf("Spaces and permission flags not applied: %+v, %+v", *cfg.generate, cfg.opts)
	}
}

// TestServeAndShutdown serves a seed file on a free port, reads it back and
// stops when the context ends, as on SIGTERM.
func TestServeAndShutdown(t *testing.T) {
	var seed bytes.Buffer
	if _, err := emulator.Generate(emulator.GenerateSpec{Org: "demo", Developers: 3, Apps: 2, APIProducts: 1, Seed: 1}).WriteTo(&seed); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(file, seed.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"--addr", "127.0.0.1:0", "--data", file, "--fault-rate", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h, orgs := handler(cfg, d, log)
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg.addr, h, orgs, log, func(u string) { urls <- u }) }()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatal(err)
	}
	res, err := http.Get(base + "/v1/organizations/demo/developers")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Developer []struct{ Email string }
	}
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || len(page.Developer) != 3 {
		t.Fatalf("served %+v (%v), want the file's 3 developers", page, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), "url="+base) {
		t.Fatalf("the log does not give the URL:\n%s", logs.String())
	}
}

// TestDefaultIsTheSample serves the embedded sample when no data is named.
func TestDefaultIsTheSample(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:8080" {
		t.Fatalf("default --addr %q", cfg.addr)
	}
	d, err := load(cfg)
	if err != nil || d.Org("acme") == nil || len(d.Org("acme").Developers) == 0 {
		t.Fatalf("default data %v, %v: want the sample org acme", d, err)
	}
}
