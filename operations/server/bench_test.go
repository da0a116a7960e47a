package server

import (
	"context"
	"io"
	"net/http"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
)

// BenchmarkGet measures one authenticated GetOperation of a finished
// operation (metadata and response Anys) over loopback, per transport.
func BenchmarkGet(b *testing.B) {
	h := start(b, tokenAuth(b))
	name := h.ops.add("acme", "developers")
	h.ops.finish(name, 1000)
	ctx := context.Background()

	b.Run("grpc", func(b *testing.B) {
		c := h.grpcClient(b, acmeToken)
		for b.Loop() {
			if _, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rest", func(b *testing.B) {
		req, _ := http.NewRequest("GET", h.url+"/v1/"+name, nil)
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		for b.Loop() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
}
