package operations_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/emulator"
	"pubexport/export/exporttest"
	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
	"pubexport/operations"
)

const signerEmail = gcstest.SignerEmail

// serviceAccountKey is a key file for credentials that can sign offline.
func serviceAccountKey(t *testing.T) []byte {
	j, _ := gcstest.ServiceAccountKey(t)
	return j
}

// TestDownloadURLs: with credentials that sign, every object and the
// manifest get a URL that downloads exactly their bytes, valid for the
// configured time (7 days by default); signing can be turned off.
func TestDownloadURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gcs, small, emulator.Options{})
	signing := openWith([]option.ClientOption{
		option.WithEndpoint(e.gcs.URL + "/storage/v1/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, serviceAccountKey(t)),
	})
	for _, tc := range []struct {
		name    string
		expiry  time.Duration
		expires string // X-Goog-Expires; "" = no URLs
	}{
		{"default", 0, "604800"},
		{"one hour", time.Hour, "3600"},
		{"off", -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m := e.manager("runner-"+tc.name, func(c *operations.Config) {
				c.Open = signing
				c.SignedURLExpiry = tc.expiry
			})
			op, err := m.Start(ctx, e.request("apps", "csv"))
			if err != nil {
				t.Fatal(err)
			}
			done, err := m.Wait(ctx, op.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			resp := e.checkResponse(done, len(e.data.Orgs[0].Apps))
			if w := metadataOf(t, done).GetWarnings(); len(w) != 0 {
				t.Errorf("warnings %q, want none", w)
			}
			for _, o := range append(resp.GetObjects(), resp.GetManifest()) {
				if tc.expires == "" {
					if o.GetDownloadUrl() != "" {
						t.Errorf("%s: download URL %q with signing off", o.GetName(), o.GetDownloadUrl())
					}
					continue
				}
				u, err := url.Parse(o.GetDownloadUrl())
				if err != nil || o.GetDownloadUrl() == "" {
					t.Fatalf("%s: download URL %q: %v", o.GetName(), o.GetDownloadUrl(), err)
				}
				q := u.Query()
				if u.Path != "/exports/acme/"+o.GetName() || q.Get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" ||
					!strings.HasPrefix(q.Get("X-Goog-Credential"), signerEmail+"/") || q.Get("X-Goog-Expires") != tc.expires ||
					len(q.Get("X-Goog-Signature")) != 512 {
					t.Errorf("%s: download URL %s: want path /exports/acme/%s, signed by %s for %s s", o.GetName(), u, o.GetName(), signerEmail, tc.expires)
				}
				// The emulator serves the object at the URL's path over
				// plain HTTP (it does not check signatures).
				u.Scheme = "http"
				r, err := http.Get(u.String())
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(r.Body)
				r.Body.Close()
				sum := sha256.Sum256(body)
				if r.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != o.GetSha256() {
					t.Errorf("GET %s: %s, sha256 %x, want %s", u, r.Status, sum, o.GetSha256())
				}
			}
			// The URLs are part of the stored operation.
			got, err := e.manager("reader-"+tc.name).Get(ctx, op.GetName())
			if err != nil || !proto.Equal(got, done) {
				t.Errorf("stored operation differs from the runner's (%v):\n%v\n%v", err, got, done)
			}
		})
	}
}

// TestDownloadURLsWithoutSigner: credentials that cannot sign do not fail
// the export; the response has no URLs and the metadata says why, once. A
// local folder has nothing to sign and says nothing.
func TestDownloadURLsWithoutSigner(t *testing.T) {
	for _, b := range []backend{local, gcs} {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, b, small, emulator.Options{})
			ctx := context.Background()
			var logs exporttest.Buffer
			m := e.manager("runner-1", func(c *operations.Config) { // gcs: option.WithoutAuthentication
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			op, err := m.Start(ctx, e.request("developers", "ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			done, err := m.Wait(ctx, op.GetName(), 0)
			if err != nil {
				t.Fatal(err)
			}
			resp := e.checkResponse(done, len(e.data.Orgs[0].Developers))
			for _, o := range append(resp.GetObjects(), resp.GetManifest()) {
				if o.GetDownloadUrl() != "" {
					t.Errorf("%s: download URL %q", o.GetName(), o.GetDownloadUrl())
				}
			}
			warnings := metadataOf(t, done).GetWarnings()
			logged := strings.Count(logs.String(), "download URLs not signed")
			switch b {
			case local:
				if len(warnings) != 0 || logged != 0 {
					t.Errorf("local: warnings %q, %d log lines about signing; want none", warnings, logged)
				}
			case gcs:
				if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "download URLs not signed: ") ||
					!strings.Contains(warnings[0], "no credentials") || !strings.Contains(warnings[0], "service account") {
					t.Errorf("warnings %q, want one saying the URLs were not signed and why", warnings)
				}
				if logged != 1 || !strings.Contains(logs.String(), "level=INFO msg=\"download URLs not signed\"") {
					t.Errorf("log, want one INFO line about signing:\n%s", logs.String())
				}
			}
			stored, err := e.manager("reader").Get(ctx, op.GetName())
			if err != nil || !proto.Equal(stored, done) {
				t.Errorf("stored operation differs from the runner's (%v)", err)
			}
		})
	}
}

func TestSignedURLExpiryTooLong(t *testing.T) {
	t.Parallel()
	_, err := operations.New(context.Background(), operations.Config{
		Store:           newEnv(t, local, small, emulator.Options{}).store(),
		SignedURLExpiry: sink.MaxSignedURLExpiry + time.Hour,
	})
	wantCode(t, err, codes.InvalidArgument, "SignedURLExpiry", "168h0m0s")
}

// TestNoDownloadURLsForSecrets: an export that includes consumer secrets
// gets no signed URLs, even with credentials that can sign, and says why.
func TestNoDownloadURLsForSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gcs, small, emulator.Options{})
	m := e.manager("secrets", func(c *operations.Config) {
		c.Open = openWith([]option.ClientOption{
			option.WithEndpoint(e.gcs.URL + "/storage/v1/"),
			option.WithAuthCredentialsJSON(option.ServiceAccount, serviceAccountKey(t)),
		})
	})
	req := e.request("apps", "json")
	req.IncludeSecrets = true
	op, err := m.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	done, err := m.Wait(context.Background(), op.GetName(), 0)
	if err != nil {
		t.Fatal(err)
	}
	resp := e.checkResponse(done, len(e.data.Orgs[0].Apps))
	for _, o := range append(resp.GetObjects(), resp.GetManifest()) {
		if o.GetDownloadUrl() != "" {
			t.Errorf("%s has a download URL though it holds secrets", o.GetName())
		}
	}
	if w := metadataOf(t, done).GetWarnings(); !slices.ContainsFunc(w, func(s string) bool {
		return strings.HasPrefix(s, "download URLs not signed: the export includes consumer secrets")
	}) {
		t.Errorf("warnings %q, want one saying why nothing was signed", w)
	}
}
