package server

// The pubexport.v1.ExportService gRPC service is written by hand here rather
// than generated: export.proto declares only messages (so that it stays free
// of googleapis imports and needs no plugin beyond protoc-gen-go), and
// protoc-gen-go-grpc is not available where this project is built offline.
// A unary service is a ServiceDesc, one handler and one Invoke call, which is
// what protoc-gen-go-grpc would emit; keep the three in step if a method is
// added.

import (
	"context"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"

	"pubexport/operations/operationspb"
)

// ExportServiceName is the full name of the trigger service.
const ExportServiceName = "pubexport.v1.ExportService"

// ExportMethod is the full gRPC method name of the trigger.
const ExportMethod = "/" + ExportServiceName + "/Export"

// ExportServer is the server side of pubexport.v1.ExportService.
type ExportServer interface {
	// Export starts an export and returns its operation at once.
	Export(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error)
}

// RegisterExportServer registers srv as pubexport.v1.ExportService on s.
func RegisterExportServer(s grpc.ServiceRegistrar, srv ExportServer) {
	s.RegisterService(&exportServiceDesc, srv)
}

var exportServiceDesc = grpc.ServiceDesc{
	ServiceName: ExportServiceName,
	HandlerType: (*ExportServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler:    exportHandler,
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "operations/operationspb/export.proto",
}

func exportHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(operationspb.ExportRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(ExportServer).Export(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: ExportMethod}
	handler := func(ctx context.Context, req any) (any, error) {
		return srv.(ExportServer).Export(ctx, req.(*operationspb.ExportRequest))
	}
	return interceptor(ctx, in, info, handler)
}

// ExportClient calls pubexport.v1.ExportService.
type ExportClient struct {
	cc grpc.ClientConnInterface
}

// NewExportClient returns a client that calls the trigger over cc.
func NewExportClient(cc grpc.ClientConnInterface) *ExportClient {
	return &ExportClient{cc: cc}
}

// Export starts an export; poll the returned operation with a
// google.longrunning Operations client.
func (c *ExportClient) Export(ctx context.Context, req *operationspb.ExportRequest, opts ...grpc.CallOption) (*longrunningpb.Operation, error) {
	out := new(longrunningpb.Operation)
	if err := c.cc.Invoke(ctx, ExportMethod, req, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}
