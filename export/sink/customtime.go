package sink

import (
	"context"
	"errors"
	"os"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/grpc/codes"
)

// Stamper is a Bucket that can set an object's custom time, the date a
// Cloud Storage lifecycle rule's daysSinceCustomTime counts from. An export
// stamps every object its manifest references with its own time, so that a
// rule "delete 30 days after the custom time" deletes only objects that no
// export of the last 30 days referenced, however old they are.
type Stamper interface {
	// StampTime sets the object's custom time to t unless it is already t
	// or later: Cloud Storage lets it move forward only, and an older
	// export that finishes late must not move it back.
	StampTime(ctx context.Context, name string, t time.Time) error
}

var (
	_ Stamper = (*gcsBucket)(nil)
	_ Stamper = (*localBucket)(nil)
)

// stampAttempts bounds the read-modify-write loop against concurrent
// stampers.
const stampAttempts = 5

func (b *gcsBucket) StampTime(ctx context.Context, name string, t time.Time) error {
	o, err := b.object(name)
	if err != nil {
		return err
	}
	// Whole seconds: what every Cloud Storage front end (and emulator) keeps.
	t = t.UTC().Truncate(time.Second)
	for range stampAttempts {
		a, err := o.Attrs(ctx)
		if err != nil {
			return gcsError(err, b.name, "reading the attributes of "+b.URI(name))
		}
		if !a.CustomTime.Before(t) {
			return nil // already as new or newer
		}
		// The metageneration precondition makes the update safe to retry
		// and loses a race cleanly (412) instead of moving the time back.
		_, err = o.If(storage.Conditions{MetagenerationMatch: a.Metageneration}).Update(ctx, storage.ObjectAttrsToUpdate{CustomTime: t})
		switch httpCode(err) {
		case 0:
			return nil
		case 412:
			continue // another stamper: look again
		case 400:
			// Cloud Storage refuses to move a custom time backwards: a
			// newer export stamped it in between.
			return nil
		}
		return gcsError(err, b.name, "setting the custom time of "+b.URI(name))
	}
	return newError(codes.Aborted, nil, "setting the custom time of %s: changed by others %d times in a row; run the export again", b.URI(name), stampAttempts)
}

// StampTime sets a file's modification time, forward only, so that
// `find -mtime` finds what no recent export referenced, as the lifecycle
// rule does on Cloud Storage.
func (b *localBucket) StampTime(ctx context.Context, name string, t time.Time) error {
	p, err := b.path(name)
	if err != nil {
		return err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return localError(err, "stamping "+p)
	}
	if !fi.ModTime().Before(t) {
		return nil
	}
	if err := os.Chtimes(p, time.Time{}, t); err != nil && !errors.Is(err, os.ErrPermission) {
		return localError(err, "stamping "+p)
	}
	return nil
}
