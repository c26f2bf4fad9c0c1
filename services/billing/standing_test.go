package billing_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
)

func TestStandingOf(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	const grace = 72 * time.Hour
	const (
		active     = billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE
		pastDue    = billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE
		canceled   = billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED
		incomplete = billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_INCOMPLETE
	)
	tests := []struct {
		name string
		st   *billingv1.NamespaceStatus
		want billing.Standing
	}{
		{"not billed", nil, billing.Good},
		{"active", &billingv1.NamespaceStatus{Status: active, CurrentPeriodEnd: ts(time.Hour)}, billing.Good},
		{"active, period over, renews", &billingv1.NamespaceStatus{Status: active, CurrentPeriodEnd: ts(-time.Hour)}, billing.Good},
		{"canceling, in the period", &billingv1.NamespaceStatus{Status: active, CancelAtPeriodEnd: true, CurrentPeriodEnd: ts(time.Hour)}, billing.Good},
		{"canceling, period over", &billingv1.NamespaceStatus{Status: active, CancelAtPeriodEnd: true, CurrentPeriodEnd: ts(-time.Hour)}, billing.Gated},
		{"past due, in grace", &billingv1.NamespaceStatus{Status: pastDue, StatusSince: ts(-71 * time.Hour)}, billing.Grace},
		{"past due, grace over", &billingv1.NamespaceStatus{Status: pastDue, StatusSince: ts(-72 * time.Hour)}, billing.Gated},
		{"canceled, paid period left", &billingv1.NamespaceStatus{Status: canceled, CurrentPeriodEnd: ts(time.Hour)}, billing.Good},
		{"canceled, period over", &billingv1.NamespaceStatus{Status: canceled, CurrentPeriodEnd: ts(0)}, billing.Gated},
		{"canceled, no period", &billingv1.NamespaceStatus{Status: canceled}, billing.Gated},
		{"incomplete", &billingv1.NamespaceStatus{Status: incomplete, CurrentPeriodEnd: ts(time.Hour)}, billing.Gated},
		{"unknown status", &billingv1.NamespaceStatus{Status: 99}, billing.Good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := billing.StandingOf(tt.st, now, grace); got != tt.want {
				t.Errorf("StandingOf(%v) = %v, want %v", tt.st, got, tt.want)
			}
		})
	}
	if got := billing.StandingOf(&billingv1.NamespaceStatus{Status: pastDue, StatusSince: ts(0)}, now, 0); got != billing.Gated {
		t.Errorf("StandingOf(past due, no grace) = %v, want gated", got)
	}
}

// TestGatedWord checks what a gated namespace is told its subscription is:
// one set to end whose period is over has ended, though its status may
// still say active.
func TestGatedWord(t *testing.T) {
	tests := []struct {
		st   *billingv1.NamespaceStatus
		want string
	}{
		{&billingv1.NamespaceStatus{Status: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE, CancelAtPeriodEnd: true}, "canceled"},
		{&billingv1.NamespaceStatus{Status: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED}, "canceled"},
		{&billingv1.NamespaceStatus{Status: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE}, "past_due"},
		{&billingv1.NamespaceStatus{Status: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_INCOMPLETE}, "incomplete"},
	}
	for _, tt := range tests {
		if got := billing.GatedWord(tt.st); got != tt.want {
			t.Errorf("GatedWord(%v) = %q, want %q", tt.st, got, tt.want)
		}
	}
}
