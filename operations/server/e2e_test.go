package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/longrunning"
	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/export"
	"pubexport/export/apigee"
	"pubexport/export/apigee/apigeepb"
	"pubexport/export/apigee/emulator"
	"pubexport/export/sink"
	"pubexport/operations"
	"pubexport/operations/operationspb"
	"pubexport/operations/server"
	"pubexport/operations/store"
)

const e2eToken = "e2e-token-0123456789abcdef"

// bearer sends a bearer token over plaintext gRPC (the oauth credentials
// refuse to).
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// TestEndToEnd is the polling API as a user meets it: a REST trigger starts
// a real export (Apigee emulator in, local folder out) through a real
// Manager, and the official gRPC client polls the operation to done, seeing
// progress rise in between; a second export is cancelled through the
// official REST client and ends CANCELLED with nothing published.
func TestEndToEnd(t *testing.T) {
	// The emulator holds developer pages past the third until the test has
	// seen the operation in progress, so the check does not race the export.
	release := make(chan struct{})
	hold := make(chan struct{}) // the second export's pages, never released
	var pages, csvPages atomic.Int32
	data := emulator.Generate(emulator.GenerateSpec{Org: "acme", Developers: 5000, Apps: 30, Seed: 31})
	emu, err := emulator.Start(data, emulator.Options{Intercept: func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/developers") {
			return false
		}
		wait := release
		if r.URL.Query().Get("count") == "400" {
			if csvPages.Add(1) <= 2 {
				return false
			}
			wait = hold
		} else if pages.Add(1) <= 3 {
			return false
		}
		select {
		case <-wait:
		case <-r.Context().Done():
		}
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()

	dir := t.TempDir()
	st, err := store.Local(filepath.Join(dir, ".pubexport"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := operations.New(context.Background(), operations.Config{
		Store: st,
		Open: func(ctx context.Context, req *operationspb.ExportRequest) (export.Source, sink.Bucket, error) {
			// CSV exports page by 400, so the emulator can tell them apart.
			size := 500
			if req.GetFormat() == "csv" {
				size = 400
			}
			c, err := apigee.NewClient(ctx, apigee.WithBaseURL(req.GetApigeeUrl()), apigee.WithoutAuthentication(), apigee.WithPageSize(size))
			if err != nil {
				return nil, nil, err
			}
			b, err := sink.Open(ctx, req.GetDestination())
			return export.FromClient(c), b, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	base, stop := serveWithToken(t, m, "acme")
	defer func() {
		close(releaseOnce(release))
		stop()
	}()

	// Trigger over REST, as curl would.
	out := filepath.Join(dir, "out")
	body := `{"format":"ndjson","destination":"file://` + out + `","apigeeUrl":"` + emu.URL + `","requestId":"0b6f1d1e-4c1a-4bb5-9b55-6f0e6c8f0a11"}`
	op := restTrigger(t, base, "developers", body)
	if again := restTrigger(t, base, "developers", body); again.GetName() != op.GetName() {
		t.Fatalf("a retried trigger started %s, the first %s", again.GetName(), op.GetName())
	}

	// Poll with the official gRPC client.
	c, err := lroauto.NewOperationsClient(context.Background(),
		option.WithEndpoint(strings.TrimPrefix(base, "http://")), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithGRPCDialOption(grpc.WithPerRPCCredentials(bearer(e2eToken))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lro := longrunning.InternalNewOperation(c, &longrunningpb.Operation{Name: op.GetName()})
	var seen []float64
	released := false
	for {
		var resp operationspb.ExportResponse
		err := lro.Poll(context.Background(), &resp)
		if err != nil {
			t.Fatalf("operation failed: %v", err)
		}
		var md apigeepb.OperationMetadata
		if err := lro.Metadata(&md); err != nil {
			t.Fatal(err)
		}
		records := md.GetProgress().GetDetails().GetFields()["records"].GetNumberValue()
		if len(seen) == 0 || records != seen[len(seen)-1] {
			seen = append(seen, records)
		}
		if lro.Done() {
			if md.GetState() != apigeepb.OperationMetadata_FINISHED || resp.GetRecords() != 5000 || len(resp.GetObjects()) != 1 {
				t.Fatalf("finished with metadata %v and response %v", &md, &resp)
			}
			if _, err := os.Stat(filepath.Join(out, resp.GetObjects()[0].GetName())); err != nil {
				t.Fatalf("the published object is not there: %v", err)
			}
			break
		}
		if !released && records > 0 {
			if md.GetState() != apigeepb.OperationMetadata_IN_PROGRESS {
				t.Fatalf("state %v while records are being exported", md.GetState())
			}
			close(release)
			released = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	between := false
	for _, n := range seen {
		between = between || n > 0 && n < 5000
	}
	if !between || seen[len(seen)-1] != 5000 {
		t.Fatalf("records seen while polling: %v; want progress in between, then 5000", seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Fatalf("progress went back: %v", seen)
		}
	}

	// A second export, held by the emulator, is cancelled with the official
	// REST client.
	second := restTrigger(t, base, "developers", `{"format":"csv","destination":"file://`+out+`","apigeeUrl":"`+emu.URL+`"}`)
	rc, err := lroauto.NewOperationsRESTClient(context.Background(), option.WithEndpoint(base), option.WithoutAuthentication(),
		option.WithHTTPClient(&http.Client{Transport: bearerTransport(e2eToken)}))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for {
		got, err := rc.GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: second.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		var md apigeepb.OperationMetadata
		got.GetMetadata().UnmarshalTo(&md)
		if md.GetProgress().GetDetails().GetFields()["records"].GetNumberValue() > 0 {
			break // mid-run: the emulator holds its next page
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := rc.CancelOperation(context.Background(), &longrunningpb.CancelOperationRequest{Name: second.GetName()}); err != nil {
		t.Fatal(err)
	}
	ended, err := m.Wait(context.Background(), second.GetName(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !ended.GetDone() || ended.GetError().GetCode() != 1 {
		t.Fatalf("cancelled operation ended %v, want done with code 1 (CANCELLED)", ended)
	}
	got, err := rc.GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: second.GetName()})
	if err != nil || got.GetError().GetCode() != 1 {
		t.Fatalf("REST client reads %v, %v", got, err)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".csv") || strings.HasPrefix(e.Name(), export.StagingPrefix[:len(export.StagingPrefix)-1]) {
			filepath.WalkDir(filepath.Join(out, e.Name()), func(p string, _ os.DirEntry, _ error) error {
				t.Errorf("the cancelled export left %s", p)
				return nil
			})
		}
	}
}

// bearerTransport adds a bearer token to every HTTP request.
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// releaseOnce returns ch if it is still open, or a fresh channel to close
// harmlessly.
func releaseOnce(ch chan struct{}) chan struct{} {
	select {
	case <-ch:
		return make(chan struct{})
	default:
		return ch
	}
}

func restTrigger(t *testing.T, base, resource, body string) *longrunningpb.Operation {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/organizations/acme/"+resource+":export", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("trigger: %s %s", resp.Status, b)
	}
	var op longrunningpb.Operation
	if err := protojson.Unmarshal(b, &op); err != nil {
		t.Fatalf("trigger answered %s: %v", b, err)
	}
	if !strings.HasPrefix(op.GetName(), "organizations/acme/operations/") {
		t.Fatalf("operation name %q", op.GetName())
	}
	return &op
}

// serveWithToken serves m's API on a loopback port to the bearer e2eToken,
// allowed the organization org ("*" for all), and returns its base URL and
// a stop that ends Serve and reports its error.
func serveWithToken(t *testing.T, m server.Operations, org string) (base string, stop func()) {
	t.Helper()
	tokens, err := server.ParseTokenFile([]byte(`{"tokens":[{"token":"` + e2eToken + `","organizations":["` + org + `"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := server.TokenAuth(tokens)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.New(m, server.Options{Auth: auth}).Serve(ctx, l) }()
	return "http://" + l.Addr().String(), func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}
