// Package notify tells subscribers that an export operation ended: one
// Pub/Sub message per finished operation (done, failed or cancelled), with
// the google.longrunning.Operation as protojson in the data and attributes
// to filter on without decoding it, like Cloud Storage's own notifications.
package notify

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/operations/operationspb"
)

// The message attributes.
const (
	AttrOrganization = "organization" // acme
	AttrResource     = "resource"     // developers, apps or apiproducts
	AttrState        = "state"        // SUCCEEDED, FAILED or CANCELLED
	AttrOperation    = "operation"    // organizations/acme/operations/ID
	AttrErrorCode    = "errorCode"    // the google.rpc.Code name of a failure, e.g. PERMISSION_DENIED
)

// The states a message reports.
const (
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
	Cancelled = "CANCELLED"
)

// publishTimeout bounds one notification: the operation has ended, and a
// slow topic must not hold its runner.
const publishTimeout = 30 * time.Second

var topicRE = regexp.MustCompile(`^projects/([a-z][-a-z0-9.:]{4,61}[a-z0-9]|[a-z][-a-z0-9]{4,28}[a-z0-9])/topics/([A-Za-z][-A-Za-z0-9._~%+]{2,254})$`)

// ParseURL checks a --notify value, pubsub://projects/PROJECT/topics/TOPIC,
// and returns the project and the full topic name. It does no I/O.
func ParseURL(s string) (project, topic string, err error) {
	rest, ok := strings.CutPrefix(s, "pubsub://")
	if !ok {
		return "", "", status.Errorf(codes.InvalidArgument, "%q: want pubsub://projects/PROJECT/topics/TOPIC", s)
	}
	m := topicRE.FindStringSubmatch(rest)
	if m == nil || strings.HasPrefix(m[2], "goog") {
		return "", "", status.Errorf(codes.InvalidArgument, "%q is not a Pub/Sub topic: want pubsub://projects/PROJECT/topics/TOPIC (a topic ID is 3 to 255 letters, digits and - . _ ~ %% +, starting with a letter, not with goog)", s)
	}
	return m[1], rest, nil
}

// PubSub publishes to one topic.
type PubSub struct {
	client *pubsub.Client
	pub    *pubsub.Publisher
	topic  string
}

// NewPubSub connects to the topic u names (Application Default Credentials;
// PUBSUB_EMULATOR_HOST is honoured). It does not check that the topic
// exists: a publish to a missing topic fails, and that is reported on the
// operation it was about.
func NewPubSub(ctx context.Context, u string, opts ...option.ClientOption) (*PubSub, error) {
	project, topic, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	c, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "connecting to Pub/Sub for %s: %v", u, err)
	}
	pub := c.Publisher(topic)
	// One message at a time: a notification is sent when an operation
	// ends, and waiting for a batch to fill would only delay it.
	pub.PublishSettings.CountThreshold = 1
	return &PubSub{client: c, pub: pub, topic: topic}, nil
}

// Topic is the full topic name.
func (p *PubSub) Topic() string { return p.topic }

// Notify publishes the message for op, which has ended, and waits for
// Pub/Sub to accept it.
func (p *PubSub) Notify(ctx context.Context, op *longrunningpb.Operation, req *operationspb.ExportRequest) error {
	msg, err := Message(op, req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if _, err := p.pub.Publish(ctx, msg).Get(ctx); err != nil {
		return fmt.Errorf("publishing to %s: %w", p.topic, err)
	}
	return nil
}

// Close flushes and releases the client.
func (p *PubSub) Close() error {
	p.pub.Stop()
	return p.client.Close()
}

// Message is the message that reports op's end.
func Message(op *longrunningpb.Operation, req *operationspb.ExportRequest) (*pubsub.Message, error) {
	data, err := protojson.Marshal(op)
	if err != nil {
		return nil, fmt.Errorf("encoding operation %s: %w", op.GetName(), err)
	}
	attrs := map[string]string{
		AttrOrganization: strings.TrimPrefix(req.GetParent(), "organizations/"),
		AttrResource:     req.GetResource(),
		AttrState:        State(op),
		AttrOperation:    op.GetName(),
	}
	if e := op.GetError(); e != nil {
		attrs[AttrErrorCode] = code.Code(e.GetCode()).String()
	}
	return &pubsub.Message{Data: data, Attributes: attrs}, nil
}

// State is SUCCEEDED, FAILED or CANCELLED for an operation that ended.
func State(op *longrunningpb.Operation) string {
	switch e := op.GetError(); {
	case e == nil:
		return Succeeded
	case codes.Code(e.GetCode()) == codes.Canceled:
		return Cancelled
	default:
		return Failed
	}
}
