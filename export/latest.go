package export

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"pubexport/export/sink"
)

// LatestFolder holds, under a destination's root (the part of --to before
// any placeholder), one pointer per organization and resource to its newest
// export: LATEST/ORG/RESOURCE.json. Finding "the latest apps export" is one
// read, whatever the layout of the dated folders.
const LatestFolder = "LATEST/"

// LatestName is the name of the pointer to org's newest export of resource.
func LatestName(org, resource string) string {
	return LatestFolder + org + "/" + resource + ".json"
}

// Latest is the pointer's content.
type Latest struct {
	Organization string `json:"organization"`
	Resource     string `json:"resource"`
	// Operation names the export's operation, when it ran as one.
	Operation string `json:"operation,omitempty"`
	Format    string `json:"format"`
	// RunTime is when the export started: a pointer moves only to an
	// export that started later, whatever order they finish in.
	RunTime time.Time `json:"runTime"`
	EndTime time.Time `json:"endTime"`
	// Destination is the folder the export wrote to (placeholders filled).
	Destination string   `json:"destination"`
	Manifest    string   `json:"manifest"`
	Schema      string   `json:"schema,omitempty"`
	Objects     []string `json:"objects"`
	Records     int64    `json:"records"`
}

// NewLatest is the pointer to the export res of spec (whose Destination is
// the folder it wrote to).
func NewLatest(spec Spec, res *Result, operation string) Latest {
	l := Latest{
		Organization: spec.Org,
		Resource:     string(spec.Resource),
		Operation:    operation,
		Format:       string(spec.Format),
		RunTime:      res.Started.UTC(),
		EndTime:      res.Finished.UTC(),
		Destination:  spec.Destination,
		Manifest:     res.Manifest.URI,
		Schema:       res.Schema.URI,
		Records:      res.Records,
		Objects:      []string{},
	}
	for _, o := range res.Objects {
		l.Objects = append(l.Objects, o.URI)
	}
	return l
}

// latestAttempts bounds the read-compare-write loop: each lost race means
// another export moved the pointer, so few are ever needed.
const latestAttempts = 10

// WriteLatest points root's pointer for l's organization and resource at l,
// unless it already points at an export that started later (an older
// export finishing late never overwrites a newer pointer). The write is
// conditional on the pointer being unchanged since it was read, and read
// again when another writer got there first. It reports whether the
// pointer now names l.
func WriteLatest(ctx context.Context, root sink.Bucket, l Latest) (bool, error) {
	v, ok := root.(sink.Versioned)
	if !ok {
		return false, status.Errorf(codes.Unimplemented, "the destination %s cannot hold a latest-export pointer", root.URI(""))
	}
	name := LatestName(l.Organization, l.Resource)
	body, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return false, fmt.Errorf("encoding the latest-export pointer: %w", err)
	}
	body = append(body, '\n')
	for attempt := 0; ; attempt++ {
		cur, version, err := v.ReadVersion(ctx, name)
		if err != nil {
			return false, fmt.Errorf("reading the latest-export pointer: %w", err)
		}
		if version != 0 {
			var old Latest
			if json.Unmarshal(cur, &old) == nil && newer(old, l) {
				return false, nil
			}
		}
		err = v.WriteIfVersion(ctx, name, body, version, sink.Attrs{ContentType: "application/json"})
		if err == nil {
			return true, nil
		}
		if status.Code(err) != codes.Aborted || attempt+1 >= latestAttempts {
			return false, fmt.Errorf("writing the latest-export pointer %s: %w", root.URI(name), err)
		}
		select {
		case <-ctx.Done():
			return false, status.FromContextError(ctx.Err()).Err()
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
}

// newer reports whether old must stay: it names an export that started
// later than l, or at the same time and is not l's.
func newer(old, l Latest) bool {
	if old.RunTime.Equal(l.RunTime) {
		return old.Operation != l.Operation || old.Manifest != l.Manifest
	}
	return old.RunTime.After(l.RunTime)
}

// ReadLatest returns root's pointer to org's newest export of resource;
// NOT_FOUND when no export has set it.
func ReadLatest(ctx context.Context, root sink.Bucket, org, resource string) (*Latest, error) {
	name := LatestName(org, resource)
	var body []byte
	if v, ok := root.(sink.Versioned); ok {
		b, version, err := v.ReadVersion(ctx, name)
		if err != nil {
			return nil, err
		}
		if version == 0 {
			return nil, status.Errorf(codes.NotFound, "no latest export of %s of organization %s under %s: none finished there yet (looked for %s)", resource, org, root.URI(""), root.URI(name))
		}
		body = b
	}
	var l Latest
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, status.Errorf(codes.DataLoss, "%s is not a latest-export pointer (%v); delete it, and the next export writes it again", root.URI(name), err)
	}
	return &l, nil
}
