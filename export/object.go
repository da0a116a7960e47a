package export

import (
	"context"
	"fmt"

	"pubexport/export/sink"
	"pubexport/formats"
)

// object is the export object being written: an encoder whose bytes go,
// hashed, into a sequence of staging parts.
type object struct {
	// ctx is the run's context, kept because io.Writer has no room for one;
	// it lives exactly as long as the run.
	ctx      context.Context
	bucket   sink.Bucket
	index    int
	enc      formats.Encoder
	dg       *digest
	records  int64
	parts    []string        // closed staging parts, in order
	lastInfo sink.ObjectInfo // what the destination reported for the last closed part
	part     sink.Writer
	partName string
	namePart func(n int) string
}

// Write sends encoded bytes to the open staging part, opening one first if
// the last was closed at a checkpoint.
func (o *object) Write(p []byte) (int, error) {
	if o.part == nil {
		if err := o.openPart(); err != nil {
			return 0, err
		}
	}
	n, err := o.part.Write(p)
	o.dg.Write(p[:n])
	if err != nil {
		return n, fmt.Errorf("writing staging object %s: %w", o.partName, err)
	}
	return n, nil
}

func (o *object) openPart() error {
	name := o.namePart(len(o.parts))
	w, err := o.bucket.NewWriter(o.ctx, name, sink.Attrs{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("creating staging object %s: %w", name, err)
	}
	o.part, o.partName = w, name
	return nil
}

// stageEmpty stages an empty part for an object that got no bytes at all
// (NDJSON, or CSV without header, of a resource with no records), so that
// it is published like any other: an empty file is a valid one there.
func (o *object) stageEmpty() error {
	if len(o.parts) > 0 || o.part != nil {
		return nil
	}
	if err := o.openPart(); err != nil {
		return err
	}
	return o.closePart()
}

func (o *object) closePart() error {
	if o.part == nil {
		return nil
	}
	w := o.part
	o.part = nil
	info, err := w.Close()
	if err != nil {
		return fmt.Errorf("completing staging object %s: %w", o.partName, err)
	}
	o.parts = append(o.parts, o.partName)
	o.lastInfo = info
	return nil
}

// abort discards the open part, if any; closed parts stay for a resume or
// for Cleanup.
func (o *object) abort() {
	if o.part != nil {
		o.part.Abort()
		o.part = nil
	}
}
