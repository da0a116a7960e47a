package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Tokens of the test token file: acme sees acme, globex sees globex, star
// sees every organization.
const (
	acmeToken   = "acme-token-0123456789abcdef"
	globexToken = "globex-token-0123456789abcdef"
	starToken   = "star-token-0123456789abcdef"
)

const testTokenFile = `{
  "tokens": [
    {"token": "acme-token-0123456789abcdef", "organizations": ["acme"]},
    {"token": "globex-token-0123456789abcdef", "organizations": ["globex"]},
    {"token": "star-token-0123456789abcdef", "organizations": ["*"]}
  ],
  "principals": [
    {"email": "CI@acme-proj.iam.gserviceaccount.com", "organizations": ["acme"]}
  ]
}`

func tokenAuth(t testing.TB) *Auth {
	t.Helper()
	f, err := ParseTokenFile([]byte(testTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := TokenAuth(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// harness is a Server on a loopback port, stopped (gracefully, checked) at
// the end of the test.
type harness struct {
	ops  *memOps
	srv  *Server
	addr string // 127.0.0.1:PORT
	url  string // http://127.0.0.1:PORT
}

func start(t testing.TB, auth *Auth, tweak ...func(*Options)) *harness {
	t.Helper()
	l := listen(t)
	ops := newMemOps()
	opts := Options{Auth: auth, Logger: testLogger()}
	for _, f := range tweak {
		f(&opts)
	}
	s := New(ops, opts)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &harness{ops: ops, srv: s, addr: l.Addr().String(), url: "http://" + l.Addr().String()}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// bearer sends a bearer token on every RPC. The grpc oauth credentials
// refuse to send tokens over plaintext, so tests use this minimal one.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// bearerTransport adds a bearer token to every HTTP request.
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b != "" {
		r.Header.Set("Authorization", "Bearer "+string(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// grpcConn dials the harness with token (none if "").
func (h *harness) grpcConn(t testing.TB, token string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(token)))
	}
	cc, err := grpc.NewClient(h.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// grpcClient is the official gRPC Operations client with token.
func (h *harness) grpcClient(t testing.TB, token string) *lroauto.OperationsClient {
	t.Helper()
	opts := []option.ClientOption{
		option.WithEndpoint(h.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	if token != "" {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithPerRPCCredentials(bearer(token))))
	}
	c, err := lroauto.NewOperationsClient(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// restClient is the official REST Operations client with token.
func (h *harness) restClient(t testing.TB, token string) *lroauto.OperationsClient {
	t.Helper()
	c, err := lroauto.NewOperationsRESTClient(context.Background(),
		option.WithEndpoint(h.url),
		option.WithHTTPClient(&http.Client{Transport: bearerTransport(token)}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
