package main

import (
	"strings"

	"google.golang.org/api/option"

	"pubexport/export/sink"
)

// storageEmulatorVar names a Cloud Storage emulator (HOST:PORT) to use
// instead of Cloud Storage, the variable the storage client reads itself.
const storageEmulatorVar = "STORAGE_EMULATOR_HOST"

// storageOptions are the Cloud Storage client options of every operation
// store and destination the command opens: none (Cloud Storage, with
// Application Default Credentials) unless STORAGE_EMULATOR_HOST names an
// emulator, which is then reached without credentials as the storage
// client would. The variable is read through the app's environment, like
// every other one, so that in-process commands with different
// environments each reach their own emulator (tests run in parallel).
func storageOptions(a *app) []option.ClientOption {
	host := strings.TrimSpace(a.getenv(storageEmulatorVar))
	if host == "" {
		return nil
	}
	if !strings.Contains(host, "://") {
		host = "http://" + host
	}
	return []option.ClientOption{option.WithEndpoint(strings.TrimSuffix(host, "/") + "/storage/v1/"), option.WithoutAuthentication()}
}

// sinkOptions are storageOptions for sink.Open.
func sinkOptions(a *app) []sink.Option {
	opts := storageOptions(a)
	if opts == nil {
		return nil
	}
	return []sink.Option{sink.WithClientOptions(opts...)}
}
