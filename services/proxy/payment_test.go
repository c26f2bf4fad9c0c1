package proxy

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/pkg/identity"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

func nsStatus(ns string, st billingv1.SubscriptionStatus, rev uint64) *billingv1.NamespaceStatus {
	return &billingv1.NamespaceStatus{Namespace: ns, Status: st, Revision: rev, StatusSince: timestamppb.New(time.Now().Add(-time.Hour))}
}

const (
	active  = billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
	pastDue = billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE
)

// TestPaymentGateFollowsTheWatch feeds the gate a watch's messages: a
// listing replaces what it knew only once complete, an older revision never
// overwrites a newer one, and auth and billing are never gated.
func TestPaymentGateFollowsTheWatch(t *testing.T) {
	g := NewPaymentGate(0, slog.New(slog.DiscardHandler))
	tenant := identity.Caller{Namespace: "tenant-a", Subject: "alice"}
	check := func(service string) error { return g.Check(context.Background(), tenant, service) }
	steps := []struct {
		name  string
		msg   *billingv1.WatchStatusesResponse
		gated bool
	}{
		{"listing, past due", &billingv1.WatchStatusesResponse{Begin: true, Current: true, Statuses: []*billingv1.NamespaceStatus{nsStatus("tenant-a", pastDue, 2)}}, true},
		{"older revision, active", &billingv1.WatchStatusesResponse{Current: true, Statuses: []*billingv1.NamespaceStatus{nsStatus("tenant-a", active, 1)}}, true},
		{"first page of a new listing, active", &billingv1.WatchStatusesResponse{Begin: true, Statuses: []*billingv1.NamespaceStatus{nsStatus("tenant-b", active, 1)}}, true},
		{"last page, without tenant-a", &billingv1.WatchStatusesResponse{Current: true}, false},
		{"change, past due", &billingv1.WatchStatusesResponse{Current: true, Statuses: []*billingv1.NamespaceStatus{nsStatus("tenant-a", pastDue, 3)}}, true},
	}
	for _, s := range steps {
		g.Apply(s.msg)
		err := check("m3o.store.v1.StoreService")
		if gated := errors.Is(err, ErrPaymentRequired); gated != s.gated {
			t.Errorf("after %s: Check(store) = %v, want gated %v", s.name, err, s.gated)
		}
	}
	for _, open := range []string{"m3o.auth.v1.AuthService", "m3o.auth.v1.SignupService", "m3o.billing.v1.BillingService"} {
		if err := check(open); err != nil {
			t.Errorf("Check(%s) while gated = %v, want nil", open, err)
		}
	}
	if err := g.Check(context.Background(), identity.Caller{}, "m3o.store.v1.StoreService"); err != nil {
		t.Errorf("Check(anonymous) = %v, want nil: the rules decide about callers without a namespace", err)
	}
}

// TestPaymentGateSaysAnEndedSubscriptionIsCanceled checks the refusal of a
// namespace whose subscription was set to end and whose paid period is
// over: its status still says active until the provider's last event, and
// the caller is told it is canceled.
func TestPaymentGateSaysAnEndedSubscriptionIsCanceled(t *testing.T) {
	g := NewPaymentGate(0, slog.New(slog.DiscardHandler))
	ended := nsStatus("tenant-a", active, 1)
	ended.CancelAtPeriodEnd, ended.CurrentPeriodEnd = true, timestamppb.New(time.Now().Add(-time.Minute))
	g.Apply(&billingv1.WatchStatusesResponse{Begin: true, Current: true, Statuses: []*billingv1.NamespaceStatus{ended}})
	err := g.Check(context.Background(), identity.Caller{Namespace: "tenant-a", Subject: "alice"}, "m3o.store.v1.StoreService")
	var refused *PaymentRequiredError
	if !errors.As(err, &refused) || refused.Status != "canceled" {
		t.Errorf("Check(store) of an ended subscription = %v, want a payment refusal saying canceled", err)
	}
}
