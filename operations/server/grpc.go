package server

import (
	"context"
	"log/slog"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"pubexport/operations/operationspb"
)

// grpcOperations serves google.longrunning.Operations.
type grpcOperations struct {
	longrunningpb.UnimplementedOperationsServer
	svc *service
}

func (g grpcOperations) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	return g.svc.get(ctx, req.GetName())
}

func (g grpcOperations) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	ops, next, err := g.svc.list(ctx, req.GetName(), req.GetFilter(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &longrunningpb.ListOperationsResponse{Operations: ops, NextPageToken: next}, nil
}

func (g grpcOperations) CancelOperation(ctx context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	if err := g.svc.cancel(ctx, req.GetName()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (g grpcOperations) DeleteOperation(ctx context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	if err := g.svc.delete(ctx, req.GetName()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (g grpcOperations) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	var d time.Duration
	if t := req.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, fieldError("timeout", "timeout: "+err.Error())
		}
		d = t.AsDuration()
	}
	return g.svc.wait(ctx, req.GetName(), d)
}

// grpcExport serves pubexport.v1.ExportService.
type grpcExport struct {
	operationspb.UnimplementedExportServiceServer
	svc *service
}

func (g grpcExport) Export(ctx context.Context, req *operationspb.ExportRequest) (*longrunningpb.Operation, error) {
	return g.svc.export(ctx, req)
}

// authUnary authenticates every unary RPC from its "authorization" metadata
// and puts the caller in the context.
func authUnary(a *Auth, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authGRPC(ctx, a)
		if err != nil {
			log.DebugContext(ctx, "grpc request refused", "method", info.FullMethod, "err", err)
			return nil, err
		}
		resp, err := handler(ctx, req)
		logGRPC(ctx, log, info.FullMethod, err)
		return resp, err
	}
}

// authStream does the same for streams; the services have none today, but a
// stream added later must not bypass authentication.
func authStream(a *Auth, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authGRPC(ss.Context(), a)
		if err != nil {
			return err
		}
		err = handler(srv, callerStream{ServerStream: ss, ctx: ctx})
		logGRPC(ctx, log, info.FullMethod, err)
		return err
	}
}

type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s callerStream) Context() context.Context { return s.ctx }

func authGRPC(ctx context.Context, a *Auth) (context.Context, error) {
	// Only the one key: FromIncomingContext copies all the metadata,
	// which cost as much as answering a GetOperation.
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) > 1 {
		return ctx, errSeveralAuthorization
	}
	var h string
	if len(vals) == 1 {
		h = vals[0]
	}
	c, err := a.authenticate(ctx, h)
	if err != nil {
		return ctx, err
	}
	return withCaller(ctx, c), nil
}

func logGRPC(ctx context.Context, log *slog.Logger, method string, err error) {
	code := status.Code(err)
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		log.ErrorContext(ctx, "grpc request failed", "method", method, "caller", subject(ctx), "code", code.String(), "err", err)
	default:
		if log.Enabled(ctx, slog.LevelDebug) { // spares polls the log's allocations
			log.DebugContext(ctx, "grpc request", "method", method, "caller", subject(ctx), "code", code.String())
		}
	}
}
