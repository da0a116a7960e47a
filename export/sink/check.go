package sink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
)

// ProbePrefix starts the names of the tiny objects Check writes and deletes
// to prove it may, where permissions cannot be asked for directly.
const ProbePrefix = ".pubexport-probe-"

// neededPermissions are what an export does to objects: create staging and
// final objects, read them back (copy, manifests), list and delete staging.
var neededPermissions = []string{
	"storage.objects.create",
	"storage.objects.delete",
	"storage.objects.get",
	"storage.objects.list",
}

func probeName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return ProbePrefix + hex.EncodeToString(b[:])
}

// Check asks Cloud Storage which of the needed permissions the caller holds
// on the bucket. Where testIamPermissions is not served (emulators answer
// 404, and real Cloud Storage answers 404 for a missing bucket too), it
// proves them by writing, reading, listing and deleting a probe object
// under the prefix.
func (b *gcsBucket) Check(ctx context.Context) error {
	got, err := b.bucket.IAM().TestPermissions(ctx, neededPermissions)
	if err == nil {
		var missing []string
		for _, p := range neededPermissions {
			if !slices.Contains(got, p) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return newError(codes.PermissionDenied, nil, "checking gs://%s: the caller lacks %s; %s", b.name, strings.Join(missing, ", "), grantHint(b.name))
		}
		return nil
	}
	switch httpCode(err) {
	case 404, 405, 501:
		return b.probe(ctx)
	}
	return b.checkError(err, "asking Cloud Storage for the caller's permissions on gs://"+b.name, "")
}

// checkError maps an error of Check, naming the permission the failed call needed.
func (b *gcsBucket) checkError(err error, what, perm string) error {
	switch httpCode(err) {
	case 401:
		return newError(codes.Unauthenticated, err, "%s: the credentials were refused; %s", what, loginHint)
	case 403:
		need := ""
		if perm != "" {
			need = " (needs " + perm + ")"
		}
		return newError(codes.PermissionDenied, err, "%s: permission denied%s; %s", what, need, grantHint(b.name))
	case 404:
		return missingBucket(err, what, b.name, "gcloud storage buckets create gs://"+b.name+" --location=LOCATION")
	}
	return gcsError(err, b.name, what)
}

func (b *gcsBucket) probe(ctx context.Context) (err error) {
	name := probeName()
	o, err := b.object(name)
	if err != nil {
		return err
	}
	uri := b.URI(name)
	w := o.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ChunkSize = 0 // one request
	w.ContentType = "text/plain"
	_, _ = w.Write([]byte("pubexport checks that it may write here; delete me if you find me\n"))
	// 412: a retry met the probe its first attempt wrote (the name is random).
	if err := w.Close(); err != nil && httpCode(err) != 412 {
		return b.checkError(err, "writing the probe object "+uri, "storage.objects.create")
	}
	deleted := false
	defer func() {
		if !deleted {
			_ = o.Delete(context.WithoutCancel(ctx))
		}
	}()
	if _, err := o.Attrs(ctx); err != nil {
		return b.checkError(err, "reading the probe object "+uri, "storage.objects.get")
	}
	it := b.bucket.Objects(ctx, &storage.Query{Prefix: b.full(name)})
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return b.checkError(err, "listing "+uri, "storage.objects.list")
	}
	if err := o.Delete(ctx); err != nil && httpCode(err) != 404 {
		return b.checkError(err, "deleting the probe object "+uri+" (delete it by hand)", "storage.objects.delete")
	}
	deleted = true
	return nil
}

// Check creates the folder if needed and proves it writable with a probe
// file. A file system has no finer permissions to ask about: who may create
// a file there may also list and delete it.
//
// The probe is not fsynced: it is removed at once, so its durability is no
// one's concern, and an fsync of a new file is a journal commit (1 ms on an
// idle disk, up to 20 ms measured on a busy one) on the path every export
// waits through before its first Apigee request. What only an fsync would
// report (a failing disk) is reported by the fsync of the export's first
// staging object, before anything is published; write and close report
// the rest (permissions, a read-only or full file system, and on NFS the
// errors of writing back).
func (b *localBucket) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return localError(err, "checking "+b.dir)
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return localError(err, "creating the folder "+b.dir)
	}
	f, err := os.CreateTemp(b.dir, ProbePrefix+"*")
	if err != nil {
		return localError(err, "writing a probe file in "+b.dir)
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = f.Write([]byte("pubexport probe\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return localError(err, "writing a probe file in "+b.dir)
	}
	if err := os.Remove(name); err != nil {
		return localError(err, fmt.Sprintf("deleting the probe file %s", name))
	}
	return nil
}
