// Package cloudruntest serves a stand-in for the Cloud Run Admin API's Jobs
// service on loopback for tests: it records every RunJob request and
// answers with a finished operation naming an execution, or with an error
// the test sets. It is the one copy the dispatcher's tests and the CLI's
// `serve --dispatch cloudrun` tests share.
package cloudruntest

import (
	"context"
	"net"
	"sync"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Operation and Execution name what RunJob answers: the long-running
// operation, and the execution (after the job's name).
const (
	Operation = "projects/p/locations/l/operations/run-1"
	Execution = "/executions/exec-1"
)

// Jobs is a running stand-in.
type Jobs struct {
	runpb.UnimplementedJobsServer
	// Addr is the plaintext HOST:PORT it serves gRPC on.
	Addr string

	mu   sync.Mutex
	reqs []*runpb.RunJobRequest
	fail error
}

// Start serves a Jobs stand-in until the test ends.
func Start(t testing.TB) *Jobs {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cloudruntest: listening: %v", err)
	}
	js := &Jobs{Addr: lis.Addr().String()}
	gs := grpc.NewServer()
	runpb.RegisterJobsServer(gs, js)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return js
}

// ClientOptions point a Cloud Run client at the stand-in.
func (s *Jobs) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Fail makes every later RunJob fail with err (nil: succeed again).
func (s *Jobs) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// Requests returns the RunJob requests received so far, failed ones
// included.
func (s *Jobs) Requests() []*runpb.RunJobRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*runpb.RunJobRequest(nil), s.reqs...)
}

// RunJob records req and answers with a finished operation whose metadata
// and response are the execution JOB/executions/exec-1.
func (s *Jobs) RunJob(_ context.Context, req *runpb.RunJobRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, proto.Clone(req).(*runpb.RunJobRequest))
	if s.fail != nil {
		return nil, s.fail
	}
	ex, err := anypb.New(&runpb.Execution{Name: req.GetName() + Execution, TaskCount: req.GetOverrides().GetTaskCount()})
	if err != nil {
		return nil, err
	}
	return &longrunningpb.Operation{Name: Operation, Metadata: ex, Done: true,
		Result: &longrunningpb.Operation_Response{Response: ex}}, nil
}
