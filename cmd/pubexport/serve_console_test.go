package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/export/exporttest"
	"pubexport/operations/operationspb"
)

// TestServeConsoleSample is `make run`'s console command: serve --console
// --sample on loopback with a folder. The page is served with its
// security headers, the session offers the sample organization, the
// built-in emulator and the folder, a trigger with those succeeds, and
// the console streams its object, whose bytes hash to its name.
func TestServeConsoleSample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base, _ := startServe(t, "--console", "--sample", "--allow-destination", dir, "--store", dir+"/.pubexport/operations")

	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
		!strings.Contains(string(page), `<script src="/console/static/console.js`) {
		t.Fatalf("GET /: %s %v\n%s", res.Status, res.Header, page)
	}

	var s struct {
		Organizations       []string
		DefaultDestination  string
		AllowedDestinations []string
		ApigeeURL           string
	}
	getJSON(t, base+"/v1/console/session", &s)
	if len(s.Organizations) != 1 || s.Organizations[0] != "acme" || s.DefaultDestination != "file://"+dir ||
		len(s.AllowedDestinations) != 1 || !strings.HasPrefix(s.ApigeeURL, "http://127.0.0.1:") {
		t.Fatalf("session: %+v", s)
	}

	body, _ := json.Marshal(map[string]any{"destination": s.DefaultDestination, "apigeeUrl": s.ApigeeURL, "format": "csv", "requestId": "6f1c1d1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/organizations/acme/apps:export", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var trigger longrunningpb.Operation
	if res.StatusCode != 200 || protojson.Unmarshal(b, &trigger) != nil {
		t.Fatalf("trigger: %s\n%s", res.Status, b)
	}
	op := exporttest.Done(t, dial(t, base), trigger.GetName())
	var resp operationspb.ExportResponse
	if op.GetError() != nil || op.GetResponse().UnmarshalTo(&resp) != nil {
		t.Fatalf("export: %v", op)
	}
	obj := resp.GetObjects()[0]
	res, err = http.Get(base + "/v1/console/download?" + url.Values{"operation": {op.GetName()}, "object": {obj.GetName()}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	sum := sha256.Sum256(data)
	if res.StatusCode != 200 || !strings.Contains(obj.GetName(), hex.EncodeToString(sum[:])) ||
		res.Header.Get("Content-Type") != "application/octet-stream" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("download %s: %s %v, %d bytes", obj.GetName(), res.Status, res.Header, len(data))
	}
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", u, res.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, b)
	}
}

// TestServeConsoleFlags: console flags are checked before serving.
func TestServeConsoleFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--console-default-destination", "/tmp/x"}, "need --console"},
		{[]string{"--console", "--allow-destination", "/tmp/a", "--console-default-destination", "/tmp/b"}, "outside --allow-destination"},
		{[]string{"--console", "--console-organization", "organizations/acme"}, "not an organization name"},
	} {
		ta := newTestApp(nil)
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--store", "file://" + t.TempDir()}, c.args...)
		if code := ta.run(t.Context(), args...); code != exitUsage || !strings.Contains(ta.stderr.String(), c.want) {
			t.Errorf("%v: exit %d\n%s", c.args, code, ta.stderr)
		}
	}
}
