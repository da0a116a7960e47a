// Package pubsubtest runs the in-process Pub/Sub fake (pstest) for the
// tests of export notifications, with the topic they publish to already
// created: the one copy the notifier's and the CLI's tests share.
package pubsubtest

import (
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Project and Topic are where the fake's topic lives; TopicURL names it as
// --notify and PUBEXPORT_NOTIFY take it.
const (
	Project  = "acme-ops"
	Topic    = "projects/" + Project + "/topics/exports"
	TopicURL = "pubsub://" + Topic
)

// Start runs the fake with Topic until the test ends, and returns it with
// the client options that reach it (a process reaches it through
// PUBSUB_EMULATOR_HOST=srv.Addr instead).
func Start(t testing.TB) (*pstest.Server, []option.ClientOption) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	opts := []option.ClientOption{
		option.WithEndpoint(srv.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	c, err := pubsub.NewClient(t.Context(), Project, opts...)
	if err != nil {
		t.Fatalf("pubsubtest: a client: %v", err)
	}
	defer c.Close()
	if _, err := c.TopicAdminClient.CreateTopic(t.Context(), &pubsubpb.Topic{Name: Topic}); err != nil {
		t.Fatalf("pubsubtest: creating %s: %v", Topic, err)
	}
	return srv, opts
}
