package server

import (
	"context"
	"net"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
)

// TestSilentConnectionsBlockNobody: connections that send nothing (or
// only part of a request line) wait in the sniffer, not in the accept
// loop, so REST and gRPC clients arriving after them are served at once.
func TestSilentConnectionsBlockNobody(t *testing.T) {
	h := start(t, tokenAuth(t))
	name := h.ops.add("acme", "apps")
	for i := range 5 {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 1 {
			c.Write([]byte("PRI * HTTP")) // half a preface
		}
	}
	h.do(t, "GET", "/v1/"+name, acmeToken, "").want200(t)
	if _, err := h.grpcClient(t, acmeToken).GetOperation(context.Background(), &longrunningpb.GetOperationRequest{Name: name}); err != nil {
		t.Fatalf("gRPC behind silent connections: %v", err)
	}
}

// TestPeekedConnReplays: the bytes read to sort a connection are read
// again by its server, then the rest of the stream.
func TestPeekedConnReplays(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() { b.Write([]byte("rest")); b.Close() }()
	c := &peekedConn{Conn: a, peeked: []byte("peeked ")}
	var got []byte
	buf := make([]byte, 3)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	if string(got) != "peeked rest" {
		t.Errorf("read %q, want %q", got, "peeked rest")
	}
}
