// Package cloudrun hands export operations to a Cloud Run job: `serve
// --dispatch cloudrun` records a triggered export and starts one execution of
// the job per operation, passing the operation's name in the environment, so
// that exports run in tasks with their own CPU, memory, timeout and retries
// instead of inside the API server.
package cloudrun

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EnvOperation is the variable carrying the operation name to the job
// (read by `pubexport job`).
const EnvOperation = "PUBEXPORT_OPERATION"

var jobName = regexp.MustCompile(`^projects/[^/]+/locations/[^/]+/jobs/[^/]+$`)

// CheckJob validates a job resource name, naming the --job flag.
func CheckJob(name string) error {
	if !jobName.MatchString(name) {
		return status.Errorf(codes.InvalidArgument, "--job %q: want a Cloud Run job name projects/PROJECT/locations/REGION/jobs/JOB", name)
	}
	return nil
}

// Dispatcher starts executions of one Cloud Run job.
type Dispatcher struct {
	client *run.JobsClient
	job    string
	env    map[string]string
	// Container names the container to override, for multi-container jobs;
	// empty means the job's only container.
	Container string
}

// New connects to the Cloud Run Admin API (with Application Default
// Credentials unless opts say otherwise). env is added to every execution's
// environment, next to PUBEXPORT_OPERATION: typically PUBEXPORT_STORE, so
// the job reads the operation from the store the server recorded it in.
func New(ctx context.Context, job string, env map[string]string, opts ...option.ClientOption) (*Dispatcher, error) {
	if err := CheckJob(job); err != nil {
		return nil, err
	}
	c, err := run.NewJobsClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Cloud Run Admin API: %w", err)
	}
	return &Dispatcher{client: c, job: job, env: env}, nil
}

// Execution is what Dispatch learned about the started execution.
type Execution struct {
	// Operation is the Cloud Run long-running operation of the execution.
	Operation string
	// Name is the execution's resource name, when Cloud Run reported it.
	Name string
}

// Dispatch starts one execution of the job, with one task, that runs the
// operation. It returns once Cloud Run accepted the execution; it does not
// wait for the export (the operation itself reports that).
func (d *Dispatcher) Dispatch(ctx context.Context, operation string) (Execution, error) {
	envs := []*runpb.EnvVar{{Name: EnvOperation, Values: &runpb.EnvVar_Value{Value: operation}}}
	// Sorted: deterministic requests are easy to compare in the console.
	for _, k := range slices.Sorted(maps.Keys(d.env)) {
		envs = append(envs, &runpb.EnvVar{Name: k, Values: &runpb.EnvVar_Value{Value: d.env[k]}})
	}
	op, err := d.client.RunJob(ctx, &runpb.RunJobRequest{
		Name: d.job,
		Overrides: &runpb.RunJobRequest_Overrides{
			ContainerOverrides: []*runpb.RunJobRequest_Overrides_ContainerOverride{{Name: d.Container, Env: envs}},
			// One operation is one task's work, whatever the job's
			// default task count (set for scheduled all-resource runs).
			TaskCount: 1,
		},
	})
	if err != nil {
		return Execution{}, fmt.Errorf("starting Cloud Run job %s for %s: %w", d.job, operation, err)
	}
	ex := Execution{Operation: op.Name()}
	if md, err := op.Metadata(); err == nil && md != nil {
		ex.Name = md.GetName()
	}
	return ex, nil
}

// Close releases the client's connection.
func (d *Dispatcher) Close() error { return d.client.Close() }
