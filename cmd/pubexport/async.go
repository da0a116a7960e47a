package main

import (
	"context"
	"fmt"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
)

// triggerAsync is `run --server --async`: it starts the exports on the
// server and prints their operation names (or the operations as JSON)
// without watching them. An export that cannot start is an error; the
// ones started before it go on, and their names are printed.
func triggerAsync(ctx context.Context, a *app, f *runFlags, p *plan) error {
	rb, err := openRunBackend(ctx, a, f, p, a.stderr)
	if err != nil {
		return err
	}
	defer rb.stop()
	defer rb.be.Close()
	var ops []*longrunningpb.Operation
	var startErr error
	for _, req := range p.reqs {
		op, err := rb.be.Export(ctx, req)
		if err != nil {
			startErr = fmt.Errorf("starting the %s export: %w", req.GetResource(), err)
			break
		}
		ops = append(ops, op)
	}
	if f.output == "json" {
		if err := printJSON(a.stdout, &longrunningpb.ListOperationsResponse{Operations: ops}); err != nil {
			return err
		}
	} else {
		for _, op := range ops {
			fmt.Fprintln(a.stdout, op.GetName())
		}
	}
	if startErr != nil {
		return startErr
	}
	if f.output != "json" {
		fmt.Fprintf(a.stderr, "Started %d exports; follow one with: pubexport operations wait NAME --server %s\n", len(ops), f.server)
	}
	return nil
}
