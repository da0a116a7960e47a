package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"pubexport/formats/field"
)

// maxErrorBytes bounds an error answer, message and details together. The
// checks that quote input cut each value (field.Echo); this is the guard
// where errors leave the server, so that no input, however large, makes a
// large answer (gRPC trailers are limited, and clients log messages).
const maxErrorBytes = 4 << 10

// bounded is st cut to maxErrorBytes: its message by field.EchoMessage, and its
// details dropped when they alone are too large.
func bounded(st *status.Status) *status.Status {
	p := st.Proto()
	if proto.Size(p) <= maxErrorBytes {
		return st
	}
	p.Message = field.EchoMessage(p.GetMessage())
	if proto.Size(p) > maxErrorBytes {
		p.Details = nil
	}
	return status.FromProto(p)
}

// boundUnary applies bounded to every gRPC error answer.
func boundUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if err != nil {
		err = bounded(status.Convert(err)).Err()
	}
	return resp, err
}
