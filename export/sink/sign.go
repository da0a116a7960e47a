package sink

import (
	"context"
	"errors"
	"os"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
)

// MaxSignedURLExpiry is the longest a V4 signed URL can stay valid.
const MaxSignedURLExpiry = 7 * 24 * time.Hour

// Signer is implemented by destinations that can hand out a download URL
// for an object that works without credentials of its own, until it
// expires. Check for it like io.WriterTo: a Cloud Storage bucket signs; a
// local folder does not, its file:// URI already being where to download.
type Signer interface {
	// SignURL returns a URL that GETs the object name (relative to the
	// destination prefix) for expires, at most MaxSignedURLExpiry. When the
	// credentials cannot sign (user credentials from gcloud, none at all)
	// it answers FAILED_PRECONDITION; when the service account may not sign
	// for itself, PERMISSION_DENIED. Either way it says what to change.
	SignURL(ctx context.Context, name string, expires time.Duration) (string, error)
}

var _ Signer = (*gcsBucket)(nil)

const signHint = "download URLs need a service account: set GOOGLE_APPLICATION_CREDENTIALS to a service account key, or run as a service account (Cloud Run) that holds roles/iam.serviceAccountTokenCreator on itself"

// SignURL signs a V4 GET URL. The storage client finds how to sign by
// itself: the private key of a service account key file, or the IAM
// signBlob API for the service account of the metadata server.
func (b *gcsBucket) SignURL(ctx context.Context, name string, expires time.Duration) (string, error) {
	if expires <= 0 || expires > MaxSignedURLExpiry {
		return "", newError(codes.InvalidArgument, nil, "signing a URL for %s: the expiry %v is not between 0 and %v", b.URI(name), expires, MaxSignedURLExpiry)
	}
	if err := checkName(name, b.full(name)); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", gcsError(err, b.name, "signing a URL for "+b.URI(name))
	}
	if b.anonymous {
		// Do not let the library probe for a metadata server and ask IAM
		// to sign with a client that carries no token: it can only fail.
		return "", newError(codes.FailedPrecondition, nil, "signing a URL for %s: the Cloud Storage client has no credentials; %s", b.URI(name), signHint)
	}
	u, err := b.bucket.SignedURL(b.full(name), &storage.SignedURLOptions{
		Scheme: storage.SigningSchemeV4,
		Method: "GET",
		// The library truncates the lifetime to whole seconds from a clock
		// it reads a moment after ours: half a second more makes it
		// round to the requested expiry instead of one second short, and
		// stays within the 7-day limit.
		Expires: time.Now().Add(expires + time.Second/2),
	})
	if err == nil {
		return u, nil
	}
	what := "signing a URL for " + b.URI(name)
	var ge *googleapi.Error
	switch {
	case errors.As(err, &ge) && ge.Code == 403:
		return "", newError(codes.PermissionDenied, err, "%s: the service account may not sign (IAM signBlob); grant it roles/iam.serviceAccountTokenCreator on itself", what)
	case errors.As(err, &ge):
		return "", gcsError(err, b.name, what)
	}
	return "", newError(codes.FailedPrecondition, err, "%s: these credentials cannot sign; %s", what, signHint)
}

// anonymous reports whether a client made with these options has no
// credentials: option.WithoutAuthentication, or STORAGE_EMULATOR_HOST,
// with which the storage client adds it.
func anonymous(opts []option.ClientOption) bool {
	if os.Getenv("STORAGE_EMULATOR_HOST") != "" {
		return true
	}
	for _, o := range opts {
		if o == option.WithoutAuthentication() {
			return true
		}
	}
	return false
}
