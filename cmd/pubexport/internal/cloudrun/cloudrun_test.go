package cloudrun

import (
	"strings"
	"testing"

	"pubexport/cmd/pubexport/internal/cloudrun/cloudruntest"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const job = "projects/acme-prod/locations/europe-west1/jobs/pubexport"

func TestDispatch(t *testing.T) {
	js := cloudruntest.Start(t)
	d, err := New(t.Context(), job, map[string]string{"PUBEXPORT_STORE": "gs://ops-bucket/ops", "A_FIRST": "1"}, js.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ex, err := d.Dispatch(t.Context(), "organizations/acme/operations/42")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Operation != cloudruntest.Operation || ex.Name != job+cloudruntest.Execution {
		t.Errorf("execution = %+v", ex)
	}
	reqs := js.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d RunJob calls", len(reqs))
	}
	req := reqs[0]
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
	js := cloudruntest.Start(t)
	js.Fail(status.Error(codes.PermissionDenied, "caller lacks run.jobs.runWithOverrides"))
	d, err := New(t.Context(), job, nil, js.ClientOptions()...)
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
