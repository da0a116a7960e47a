// Package opsclient talks to a `pubexport serve` API with the official
// google.longrunning clients: REST for http:// and https:// servers, gRPC for
// grpc:// (plaintext) and grpcs:// (TLS) ones. It adds what those clients do
// not have: the export trigger (POST .../{resource}:export or
// pubexport.v1.ExportService/Export) and a bearer token on both transports.
package opsclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	lroauto "cloud.google.com/go/longrunning/autogen"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/anypb"

	// Linked so that operation metadata and responses decode.
	_ "pubexport/export/apigee/apigeepb"
	"pubexport/export/httpcode"
	"pubexport/operations/operationspb"
)

// Client is a connection to one server.
type Client struct {
	base   string // REST base URL, "" for gRPC
	http   *http.Client
	ops    *lroauto.OperationsClient
	export operationspb.ExportServiceClient
	conn   *grpc.ClientConn
}

// Dial connects to serverURL (http://HOST:PORT, https://HOST, grpc://HOST:PORT
// or grpcs://HOST:PORT). token, when set, is sent as "Authorization: Bearer".
// It does no I/O: a server that is not there shows up on the first call.
func Dial(ctx context.Context, serverURL, token string) (*Client, error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, status.Errorf(codes.InvalidArgument, "--server %q: want http://HOST:PORT, https://HOST, grpc://HOST:PORT or grpcs://HOST:PORT", serverURL)
	}
	switch u.Scheme {
	case "http", "https":
		return dialREST(ctx, u.Scheme+"://"+u.Host, token)
	case "grpc", "grpcs":
		return dialGRPC(ctx, u.Host, u.Scheme == "grpcs", token)
	}
	return nil, status.Errorf(codes.InvalidArgument, "--server %q: unsupported scheme %q; use http, https, grpc or grpcs", serverURL, u.Scheme)
}

func dialREST(ctx context.Context, base, token string) (*Client, error) {
	hc := &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	// WithHTTPClient bypasses the client's own credentials: our token (or
	// none) is all that is sent, to http:// servers too.
	ops, err := lroauto.NewOperationsRESTClient(ctx, option.WithEndpoint(base), option.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("creating the operations REST client for %s: %w", base, err)
	}
	return &Client{base: base, http: hc, ops: ops}, nil
}

func dialGRPC(ctx context.Context, host string, useTLS bool, token string) (*Client, error) {
	creds := insecure.NewCredentials()
	if useTLS {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(rpcBearer{token: token}))
	}
	conn, err := grpc.NewClient(host, opts...)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "--server grpc://%s: %v", host, err)
	}
	ops, err := lroauto.NewOperationsClient(ctx, option.WithGRPCConn(conn))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("creating the operations gRPC client for %s: %w", host, err)
	}
	return &Client{ops: ops, export: operationspb.NewExportServiceClient(conn), conn: conn}, nil
}

// Close releases the connection.
func (c *Client) Close() error {
	err := c.ops.Close()
	if c.conn != nil {
		if cerr := c.conn.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Export triggers an export; req.Parent and req.Resource choose the path.
func (c *Client) Export(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	if c.export != nil {
		return c.export.Export(ctx, req)
	}
	body, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	u := c.base + "/v1/" + req.GetParent() + "/" + url.PathEscape(req.GetResource()) + ":export"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "POST %s: reading the answer: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, decodeError(resp.StatusCode, b)
	}
	op := new(longrunningpb.Operation)
	if err := protojson.Unmarshal(b, op); err != nil {
		return nil, status.Errorf(codes.Internal, "POST %s: the answer is not an operation: %v", u, err)
	}
	return op, nil
}

// Get returns the operation's current state.
func (c *Client) Get(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	return c.ops.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
}

// List returns an organization's operations (parent "organizations/ORG"),
// following pages, at most limit of them (0: all).
func (c *Client) List(ctx context.Context, parent, filter string, limit int) ([]*longrunningpb.Operation, error) {
	it := c.ops.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent + "/operations", Filter: filter})
	var ops []*longrunningpb.Operation
	for limit <= 0 || len(ops) < limit {
		op, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// Cancel asks the server to cancel the operation.
func (c *Client) Cancel(ctx context.Context, name string) error {
	return c.ops.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name})
}

// decodeError turns Google's JSON error body into a status error.
func decodeError(httpStatus int, body []byte) error {
	var e struct {
		Error struct {
			Code    int               `json:"code"`
			Message string            `json:"message"`
			Status  string            `json:"status"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		st := status.New(httpcode.ToCode(httpStatus, e.Error.Status), e.Error.Message)
		// Keep the details a program reads (a BadRequest names the field
		// to fix, which the command line calls by its flag); one of a
		// type not linked in is left out.
		p := st.Proto()
		for _, d := range e.Error.Details {
			a := new(anypb.Any)
			if protojson.Unmarshal(d, a) == nil {
				p.Details = append(p.Details, a)
			}
		}
		return status.FromProto(p).Err()
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return status.Errorf(httpcode.ToCode(httpStatus, ""), "HTTP %d: %s", httpStatus, msg)
}

// bearer adds the token to every REST request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token == "" {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// rpcBearer adds the token to every gRPC call. It allows plaintext only
// because grpc:// is an explicit choice (loopback, or a sidecar).
type rpcBearer struct{ token string }

func (b rpcBearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b rpcBearer) RequireTransportSecurity() bool { return false }
