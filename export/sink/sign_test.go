package sink_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"

	"pubexport/export/sink"
	"pubexport/export/sink/gcstest"
)

const signerEmail = gcstest.SignerEmail

// serviceAccountKey: see gcstest.ServiceAccountKey.
func serviceAccountKey(t *testing.T) ([]byte, *rsa.PublicKey) { return gcstest.ServiceAccountKey(t) }

// authHeaders records the Authorization header of every request.
type authHeaders struct {
	mu   sync.Mutex
	seen []string
}

func (a *authHeaders) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Header.Get("Authorization"))
		a.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// verifyV4 checks a V4 signed URL as Cloud Storage does: it rebuilds the
// canonical request and the string to sign from the URL alone
// (https://cloud.google.com/storage/docs/authentication/canonical-requests,
// .../signatures#string-to-sign) and verifies the RSA signature.
func verifyV4(u *url.URL, pub *rsa.PublicKey) error {
	q := u.Query()
	sig, err := hex.DecodeString(q.Get("X-Goog-Signature"))
	if err != nil {
		return err
	}
	var keys []string
	for k := range q {
		if k != "X-Goog-Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var query []string
	for _, k := range keys {
		query = append(query, pctEncode(k)+"="+pctEncode(q.Get(k)))
	}
	canonical := strings.Join([]string{
		"GET",
		u.EscapedPath(),
		strings.Join(query, "&"),
		// The signed host is the host name: storage.googleapis.com in
		// production; the emulator's port is not part of it.
		"host:" + u.Hostname() + "\n",
		q.Get("X-Goog-SignedHeaders"),
		"UNSIGNED-PAYLOAD",
	}, "\n")
	hashed := sha256.Sum256([]byte(canonical))
	scope := strings.TrimPrefix(q.Get("X-Goog-Credential"), signerEmail+"/")
	toSign := strings.Join([]string{"GOOG4-RSA-SHA256", q.Get("X-Goog-Date"), scope, hex.EncodeToString(hashed[:])}, "\n")
	digest := sha256.Sum256([]byte(toSign))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
}

// pctEncode is RFC 3986 percent-encoding: only unreserved characters stay.
func pctEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func TestGCSSignURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := gcstest.Start(t, testBucket)
	auth := &authHeaders{}
	srv.Use(auth.Middleware)
	creds, pub := serviceAccountKey(t)
	b, err := sink.Open(ctx, "gs://"+testBucket+"/exports/run",
		sink.WithClientOptions(option.WithEndpoint(srv.URL+"/storage/v1/"), option.WithAuthCredentialsJSON(option.ServiceAccount, creds)),
		sink.WithChunkSize(chunk), fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	// The emulator takes requests that carry credentials.
	const name = "2026/developers part 1+x.ndjson"
	data := randomBytes(7, 1000)
	checkInfo(t, write(t, b, name, data), name, data)
	auth.mu.Lock()
	for _, h := range auth.seen {
		if !strings.HasPrefix(h, "Bearer ") {
			t.Errorf("a request went without credentials: Authorization %q", h)
		}
	}
	auth.mu.Unlock()

	signer, ok := b.(sink.Signer)
	if !ok {
		t.Fatalf("%T does not implement sink.Signer", b)
	}
	before := time.Now().UTC().Truncate(time.Second)
	raw, err := signer.SignURL(ctx, name, sink.MaxSignedURLExpiry)
	after := time.Now().UTC()
	if err != nil {
		t.Fatalf("SignURL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "https" || u.Path != "/"+testBucket+"/exports/run/"+name {
		t.Errorf("signed URL %s: want https and path /%s/exports/run/%s", raw, testBucket, name)
	}
	if !strings.Contains(u.EscapedPath(), "developers%20part%201%2Bx.ndjson") {
		t.Errorf("path %s is not percent-encoded", u.EscapedPath())
	}
	date, err := time.Parse("20060102T150405Z", q.Get("X-Goog-Date"))
	if err != nil || date.Before(before) || date.After(after) {
		t.Errorf("X-Goog-Date %q is not the signing time (%v..%v): %v", q.Get("X-Goog-Date"), before, after, err)
	}
	wantCred := signerEmail + "/" + date.Format("20060102") + "/auto/storage/goog4_request"
	if q.Get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" || q.Get("X-Goog-Credential") != wantCred ||
		q.Get("X-Goog-Expires") != "604800" || q.Get("X-Goog-SignedHeaders") != "host" {
		t.Errorf("signed URL query %v, want GOOG4-RSA-SHA256, credential %s, 604800 s, host", q, wantCred)
	}
	if sig, err := hex.DecodeString(q.Get("X-Goog-Signature")); err != nil || len(sig) != 256 {
		t.Errorf("signature %q: %d bytes, %v; want 256 hex-encoded bytes", q.Get("X-Goog-Signature"), len(sig), err)
	}
	if err := verifyV4(u, pub); err != nil {
		t.Errorf("the signature does not verify with the service account's public key: %v", err)
	}
	// The verification is not vacuous: the signature covers the object.
	other := *u
	other.Path, other.RawPath = "/"+testBucket+"/exports/run/other", ""
	if verifyV4(&other, pub) == nil {
		t.Error("the signature verifies for another object too")
	}

	// The URL downloads the object (the emulator serves plain HTTP and
	// does not check signatures; Cloud Storage would).
	dl := *u
	dl.Scheme = "http"
	resp, err := http.Get(dl.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Errorf("GET %s: %s, %d bytes, want the %d bytes written", dl.String(), resp.Status, len(got), len(data))
	}

	// A shorter expiry, to the second.
	hour, err := signer.SignURL(ctx, name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	hu, _ := url.Parse(hour)
	if e := hu.Query().Get("X-Goog-Expires"); e != strconv.Itoa(3600) {
		t.Errorf("one hour expires in %s seconds", e)
	}
	if err := verifyV4(hu, pub); err != nil {
		t.Errorf("one-hour URL: %v", err)
	}

	for _, d := range []time.Duration{0, -time.Second, sink.MaxSignedURLExpiry + time.Second} {
		u, err := signer.SignURL(ctx, name, d)
		wantCode(t, err, codes.InvalidArgument, "expiry")
		if u != "" {
			t.Errorf("expiry %v: URL %q with an error", d, u)
		}
	}
	_, err = signer.SignURL(ctx, "../x", time.Hour)
	wantCode(t, err, codes.InvalidArgument, "../x")
}

func TestGCSSignURLWithoutCredentials(t *testing.T) {
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	b := openGCS(t, srv, "gs://"+testBucket+"/x") // option.WithoutAuthentication
	u, err := b.(sink.Signer).SignURL(context.Background(), "a.json", time.Hour)
	wantCode(t, err, codes.FailedPrecondition, "gs://"+testBucket+"/x/a.json", "no credentials", "GOOGLE_APPLICATION_CREDENTIALS")
	if u != "" {
		t.Errorf("URL %q with an error", u)
	}
}

// User credentials (gcloud auth application-default login) have no
// private key and no service account to ask IAM to sign for.
func TestGCSSignURLWithUserCredentials(t *testing.T) {
	if metadata.OnGCE() {
		t.Skip("on Google Cloud the storage client signs as the metadata server's service account")
	}
	t.Parallel()
	srv := gcstest.Start(t, testBucket)
	user := []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}`)
	b, err := sink.Open(context.Background(), "gs://"+testBucket+"/x",
		sink.WithClientOptions(option.WithEndpoint(srv.URL+"/storage/v1/"), option.WithAuthCredentialsJSON(option.AuthorizedUser, user)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	u, err := b.(sink.Signer).SignURL(context.Background(), "a.json", time.Hour)
	wantCode(t, err, codes.FailedPrecondition, "cannot sign", "service account")
	if u != "" {
		t.Errorf("URL %q with an error", u)
	}
}

func TestLocalDoesNotSign(t *testing.T) {
	t.Parallel()
	if _, ok := openLocal(t, t.TempDir()).(sink.Signer); ok {
		t.Error("a local folder claims to sign URLs; its file:// URI is the download location")
	}
}
