package main

import (
	"context"
	"strings"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"pubexport/operations"
	"pubexport/operations/notify"
)

// pubsubEmulatorVar names a Pub/Sub emulator (HOST:PORT) to publish to
// instead of Pub/Sub, the variable the Pub/Sub client reads itself.
const pubsubEmulatorVar = "PUBSUB_EMULATOR_HOST"

// notifyURL is the topic ended operations are published to: the --notify
// flag where a command has one (set into the app), else PUBEXPORT_NOTIFY,
// else none.
func notifyURL(a *app) string {
	if a.notify != "" {
		return a.notify
	}
	return strings.TrimSpace(a.getenv(notifyVar))
}

// checkNotify validates a --notify value (or PUBEXPORT_NOTIFY, named by
// what) before anything starts.
func checkNotify(what, u string) error {
	if u == "" {
		return nil
	}
	if _, _, err := notify.ParseURL(u); err != nil {
		return usagef("%s: %s", what, message(err))
	}
	return nil
}

// openNotifier connects to the topic, if any. PUBSUB_EMULATOR_HOST is
// honoured (tests), read through the app's environment like
// STORAGE_EMULATOR_HOST (see storageOptions).
func openNotifier(ctx context.Context, a *app) (operations.Notifier, func() error, error) {
	u := notifyURL(a)
	if u == "" {
		return nil, noClose, nil
	}
	if err := checkNotify(notifyVar, u); err != nil {
		return nil, nil, err
	}
	var opts []option.ClientOption
	if host := strings.TrimSpace(a.getenv(pubsubEmulatorVar)); host != "" {
		opts = append(opts, option.WithEndpoint(host), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	}
	n, err := notify.NewPubSub(ctx, u, opts...)
	if err != nil {
		return nil, nil, err
	}
	return n, n.Close, nil
}
