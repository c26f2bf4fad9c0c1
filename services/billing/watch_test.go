package billing_test

import (
	"context"
	"testing"
	"time"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// statusWatch follows WatchStatuses as the proxy's gate does.
type statusWatch struct {
	stream billingv1.BillingService_WatchStatusesClient
	latest map[string]*billingv1.NamespaceStatus
}

// watch opens a status watch on the replica on listener lis as
// micro/router and reads the listing.
func (e *env) watch(t *testing.T, lis string) *statusWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	stream, err := e.client(t, lis, platform.Namespace, platform.Router).WatchStatuses(ctx, &billingv1.WatchStatusesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := &statusWatch{stream: stream, latest: map[string]*billingv1.NamespaceStatus{}}
	first := w.next(t)
	if !first.GetBegin() || !first.GetCurrent() {
		t.Errorf("first message = %v, want a whole listing (begin and current)", first)
	}
	return w
}

// next reads one message and keeps its statuses.
func (w *statusWatch) next(t *testing.T) *billingv1.WatchStatusesResponse {
	t.Helper()
	msg, err := w.stream.Recv()
	if err != nil {
		t.Fatalf("WatchStatuses Recv() = %v", err)
	}
	for _, st := range msg.GetStatuses() {
		w.latest[st.GetNamespace()] = st
	}
	return msg
}

// until reads messages until ns has status want, and returns how long that
// took from start.
func (w *statusWatch) until(t *testing.T, ns string, want billingv1.SubscriptionStatus, start time.Time) time.Duration {
	t.Helper()
	for w.latest[ns].GetStatus() != want {
		w.next(t)
	}
	return time.Since(start)
}

// TestWatchStatuses follows statuses as the proxy does: the listing holds
// the billed namespaces, and a status set by hand arrives, through the
// replica that set it at once and through another replica by its poll.
func TestWatchStatuses(t *testing.T) {
	e := newEnv(t, providers[0])
	e.signup(t, providers[0], "tenant-a")
	e.serveBilling(t, "billing-2")
	here, there := e.watch(t, platform.Billing), e.watch(t, "billing-2")
	for _, w := range []*statusWatch{here, there} {
		if got := w.latest["tenant-a"].GetStatus(); got != billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE {
			t.Errorf("listing has tenant-a %v, want ACTIVE", got)
		}
		if _, ok := w.latest["tenant-b"]; ok {
			t.Errorf("listing has tenant-b, which is not billed")
		}
	}
	start := time.Now()
	e.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE)
	local := here.until(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE, start)
	remote := there.until(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE, start)
	t.Logf("past_due reached a watch on the same replica after %s, on another replica after %s (poll %s)", local, remote, pollInterval)

	e.setStatus(t, "tenant-b", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	here.until(t, "tenant-b", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, start)
}
