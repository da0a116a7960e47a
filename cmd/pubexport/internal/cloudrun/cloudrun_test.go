package cloudrun

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// jobsServer is a Cloud Run Admin API that records RunJob requests and
// answers with a finished operation, or with fail when set.
type jobsServer struct {
	runpb.UnimplementedJobsServer
	mu   sync.Mutex
	reqs []*runpb.RunJobRequest
	fail error
}

func (s *jobsServer) RunJob(_ context.Context, req *runpb.RunJobRequest) (*longrunningpb.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, proto.Clone(req).(*runpb.RunJobRequest))
	if s.fail != nil {
		return nil, s.fail
	}
	exec := &runpb.Execution{Name: req.GetName() + "/executions/exec-1", TaskCount: req.GetOverrides().GetTaskCount()}
	md, _ := anypb.New(exec)
	return &longrunningpb.Operation{
		Name:     "projects/p/locations/l/operations/run-1",
		Metadata: md,
		Done:     true,
		Result:   &longrunningpb.Operation_Response{Response: md},
	}, nil
}

// StartJobsServer serves a recording Cloud Run Admin API on loopback.
func startJobsServer(t *testing.T) (*jobsServer, []option.ClientOption) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	js := &jobsServer{}
	gs := grpc.NewServer()
	runpb.RegisterJobsServer(gs, js)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return js, []option.ClientOption{
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

const job = "projects/acme-prod/locations/europe-west1/jobs/pubexport"

func TestDispatch(t *testing.T) {
	js, opts := startJobsServer(t)
	d, err := New(t.Context(), job, map[string]string{"PUBEXPORT_STORE": "gs://ops-bucket/ops", "A_FIRST": "1"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ex, err := d.Dispatch(t.Context(), "organizations/acme/operations/42")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Operation != "projects/p/locations/l/operations/run-1" || ex.Name != job+"/executions/exec-1" {
		t.Errorf("execution = %+v", ex)
	}
	if len(js.reqs) != 1 {
		t.Fatalf("%d RunJob calls", len(js.reqs))
	}
	req := js.reqs[0]
	if req.GetName() != job || req.GetOverrides().GetTaskCount() != 1 {
		t.Errorf("request = %v", req)
	}
	co := req.GetOverrides().GetContainerOverrides()
	if len(co) != 1 {
		t.Fatalf("container overrides = %v", co)
	}
	var got []string
	for _, e := range co[0].GetEnv() {
		got = append(got, e.GetName()+"="+e.GetValue())
	}
	want := "PUBEXPORT_OPERATION=organizations/acme/operations/42,A_FIRST=1,PUBEXPORT_STORE=gs://ops-bucket/ops"
	if strings.Join(got, ",") != want {
		t.Errorf("env = %s\nwant  %s", strings.Join(got, ","), want)
	}
}

func TestDispatchError(t *testing.T) {
	js, opts := startJobsServer(t)
	js.fail = status.Error(codes.PermissionDenied, "caller lacks run.jobs.runWithOverrides")
	d, err := New(t.Context(), job, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Dispatch(t.Context(), "organizations/acme/operations/42")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "runWithOverrides") || !strings.Contains(err.Error(), job) {
		t.Errorf("error = %v", err)
	}
}

func TestCheckJob(t *testing.T) {
	for _, bad := range []string{"", "pubexport", "projects/p/jobs/j", "projects/p/locations/l/jobs/", "projects/p/locations/l/jobs/j/x"} {
		if err := CheckJob(bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "--job") {
			t.Errorf("CheckJob(%q) = %v", bad, err)
		}
	}
	if err := CheckJob(job); err != nil {
		t.Error(err)
	}
}
