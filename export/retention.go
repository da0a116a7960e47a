package export

import (
	"context"
	"fmt"
	"slices"

	"pubexport/export/sink"
)

// stamp sets the custom time of every object the export references (its
// data objects, schema and manifest) to the time the run started, on
// destinations that keep one (Cloud Storage). An unchanged object is not
// rewritten by a later export, so its creation time stays that of the first
// export that wrote it; its custom time, moved forward by every export that
// references it, is what a lifecycle rule (daysSinceCustomTime) must count
// from so that it never deletes what a recent manifest names.
//
// A failure fails the export: an object left with an old custom time may be
// deleted by the rule while the new manifest still names it.
func (x *run) stamp(ctx context.Context, res *Result) error {
	s, ok := x.r.Bucket.(sink.Stamper)
	if !ok {
		return nil
	}
	for _, o := range slices.Concat(res.Objects, []Object{res.Schema, res.Manifest}) {
		if o.Name == "" {
			continue
		}
		if err := s.StampTime(ctx, o.Name, res.Started); err != nil {
			return fmt.Errorf("setting the custom time of %s (the lifecycle rule counts from it): %w", o.URI, err)
		}
	}
	return nil
}
