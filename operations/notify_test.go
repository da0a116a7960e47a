package operations_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/encoding/protojson"

	"pubexport/export/apigee/emulator"
	"pubexport/operations"
	"pubexport/operations/notify"
	"pubexport/operations/notify/pubsubtest"
)

func newNotifier(t *testing.T, url string, opts []option.ClientOption) *notify.PubSub {
	t.Helper()
	n, err := notify.NewPubSub(t.Context(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestNotifications: one message per ended operation, with the operation
// as protojson and the attributes, whether it succeeded, failed, was
// cancelled before it started, cancelled while this process ran it, or
// cancelled by another process while this one ran it (the runner tells).
func TestNotifications(t *testing.T) {
	t.Parallel()
	ps, opts := pubsubtest.Start(t)
	release := make(chan struct{})
	e := newEnv(t, local, emulator.GenerateSpec{Developers: 5, Apps: 5, APIProducts: 3}, emulator.Options{
		Intercept: func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case strings.HasSuffix(r.URL.Path, "/apiproducts"):
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"error":{"code":403,"message":"Permission denied on apiproducts","status":"PERMISSION_DENIED"}}`))
				return true
			case strings.HasSuffix(r.URL.Path, "/apps"):
				select { // hold the apps listing until the test is done
				case <-release:
				case <-r.Context().Done():
				}
				return false
			}
			return false
		}})
	defer close(release)
	n := newNotifier(t, pubsubtest.TopicURL, opts)
	ctx := t.Context()
	m := e.manager("runner", func(c *operations.Config) { c.Notify = n; c.LeaseDuration = 900 * time.Millisecond })
	other := e.manager("canceller", func(c *operations.Config) { c.Notify = n })

	want := map[string]string{} // operation -> state
	run := func(resource string) *longrunningpb.Operation {
		op, err := m.Start(ctx, e.request(resource, "ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	done, failed := run("developers"), run("apiproducts")
	want[done.GetName()], want[failed.GetName()] = notify.Succeeded, notify.Failed
	for _, op := range []*longrunningpb.Operation{done, failed} {
		if _, err := m.Wait(ctx, op.GetName(), 0); err != nil {
			t.Fatal(err)
		}
	}
	notStarted, err := m.Create(ctx, e.request("developers", "json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Cancel(ctx, notStarted.GetName()); err != nil {
		t.Fatal(err)
	}
	want[notStarted.GetName()] = notify.Cancelled
	here := run("apps")
	if err := m.Cancel(ctx, here.GetName()); err != nil {
		t.Fatal(err)
	}
	want[here.GetName()] = notify.Cancelled
	elsewhere := run("apps")
	if err := other.Cancel(ctx, elsewhere.GetName()); err != nil {
		t.Fatal(err)
	}
	want[elsewhere.GetName()] = notify.Cancelled
	if _, err := m.Wait(ctx, elsewhere.GetName(), 0); err != nil {
		t.Fatal(err)
	}
	m.Close() // waits for the runner's notification of the foreign cancel
	other.Close()

	got := map[string][]string{}
	for _, msg := range ps.Messages() {
		var op longrunningpb.Operation
		if err := protojson.Unmarshal(msg.Data, &op); err != nil || !op.GetDone() || op.GetName() != msg.Attributes[notify.AttrOperation] {
			t.Errorf("message data is not the ended operation: %v %s", err, msg.Data)
		}
		a := msg.Attributes
		if a[notify.AttrOrganization] != "acme" || a[notify.AttrResource] == "" {
			t.Errorf("attributes: %v", a)
		}
		if a[notify.AttrOperation] == failed.GetName() && a[notify.AttrErrorCode] != "PERMISSION_DENIED" {
			t.Errorf("failed export's attributes: %v", a)
		}
		got[a[notify.AttrOperation]] = append(got[a[notify.AttrOperation]], a[notify.AttrState])
	}
	for name, state := range want {
		if s := got[name]; len(s) != 1 || s[0] != state {
			t.Errorf("%s: messages with states %v, want one %s", name, s, state)
		}
	}
	if len(got) != len(want) {
		t.Errorf("messages for %d operations, want %d: %v", len(got), len(want), got)
	}
}

// TestNotificationFailureIsAWarning: a topic that does not exist leaves
// the export done, with a warning on the operation.
func TestNotificationFailureIsAWarning(t *testing.T) {
	t.Parallel()
	_, opts := pubsubtest.Start(t)
	e := newEnv(t, local, emulator.GenerateSpec{Developers: 5}, emulator.Options{})
	n := newNotifier(t, "pubsub://projects/acme-ops/topics/missing", opts)
	m := e.manager("runner", func(c *operations.Config) { c.Notify = n })
	op, err := m.Start(t.Context(), e.request("developers", "json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(t.Context(), op.GetName(), 0); err != nil {
		t.Fatal(err)
	}
	m.Close()
	waitForWarning := func() *longrunningpb.Operation {
		for ctx := t.Context(); ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
			op, err := m.Get(context.Background(), op.GetName())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(protojson.Format(op), "notification not published") {
				return op
			}
		}
		t.Fatal("no warning on the operation")
		return nil
	}
	got := waitForWarning()
	e.checkResponse(got, 5)
}
