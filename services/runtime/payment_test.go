package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/runtime"
)

// TestUnpaidNamespaceStops follows a namespace's billing status: past due
// with no grace, its service stops and reads as stopped with the reason,
// and an update waits; active again, the service starts at its newest
// generation.
func TestUnpaidNamespaceStops(t *testing.T) {
	e := newEnv(t, options{billing: true})
	c := e.client(t)
	ctx := e.tenant(t, "unpaid-space", "dev", "developer")
	ref := runtime.Ref{Namespace: "unpaid-space", Name: "hello"}
	if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: mustUpload(t, ctx, c, "hello")}}); err != nil {
		t.Fatalf("Create() = %v", err)
	}
	e.setBilling(t, ref.Namespace, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE)
	coretest.Eventually(t, "the service stops while payment is due", func() error {
		if _, running := e.backend.last(ref); running {
			return errors.New("it still runs")
		}
		return nil
	})
	read, err := c.Read(ctx, &runtimev1.ReadRequest{Name: "hello"})
	if s := read.GetServices(); err != nil || len(s) != 1 || s[0].GetStatus() != runtimev1.Status_STATUS_STOPPED || !strings.Contains(s[0].GetError(), "past_due") {
		t.Errorf("Read() while past due = %v, %v; want stopped, naming the status", s, err)
	}
	if _, err := c.Update(ctx, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: "hello", Source: mustUpload(t, ctx, c, "hello")}}); err != nil {
		t.Fatalf("Update() while past due = %v, want it recorded", err)
	}
	if _, running := e.backend.last(ref); running {
		t.Errorf("an update while past due started the service")
	}
	e.setBilling(t, ref.Namespace, billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	coretest.Eventually(t, "the service starts again once paid", func() error {
		if d, running := e.backend.last(ref); !running || d.Generation != 2 {
			return errors.New("generation 2 does not run")
		}
		return nil
	})
}

// setBilling sets ns's subscription status as an admin does by hand.
func (e *env) setBilling(t *testing.T, ns string, st billingv1.SubscriptionStatus) {
	t.Helper()
	conn := e.p.Dial(t, e.p.Addr(platform.Billing), platform.Namespace, platform.Proxy, coretest.Core(platform.Billing))
	if _, err := billingv1.NewBillingServiceClient(conn).AdminSetStatus(e.admin, &billingv1.AdminSetStatusRequest{Namespace: ns, Status: st}); err != nil {
		t.Fatalf("AdminSetStatus(%s, %v) = %v", ns, st, err)
	}
}
