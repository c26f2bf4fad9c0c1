package billing_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/internal/statustest"
)

// TestCancelResumeAndPortal cancels a subscription as its namespace's
// admin, takes the cancel back, and asks for the portal, against each
// provider; Stripe is told of both changes.
func TestCancelResumeAndPortal(t *testing.T) {
	for _, pv := range providers {
		t.Run(pv.name, func(t *testing.T) {
			e := newEnv(t, pv)
			sub := e.signup(t, pv, "tenant-a")
			if e.recorder != nil {
				// stripe-mock answers with a fixed period long past; Stripe
				// reports the real one in its event.
				ev := billingtest.SignedEvent(t, billingtest.WebhookSecret, "customer.subscription.updated", time.Now(),
					billingtest.Subscription(sub.GetProviderId(), "tenant-a", "active", time.Now().AddDate(0, 1, 0), false))
				if _, err := e.webhook(t, ev); err != nil {
					t.Fatal(err)
				}
			}
			owner := e.user(t, "tenant-a", "owner@example.com", "admin", "developer")
			client := e.viaProxy(t)
			portal, err := client.Portal(owner, &billingv1.PortalRequest{})
			if err != nil || portal.GetUrl() == "" {
				t.Errorf("Portal() = %v, %v, want a URL", portal, err)
			}
			resp, err := client.Cancel(owner, &billingv1.CancelRequest{})
			if err != nil || !resp.GetSubscription().GetCancelAtPeriodEnd() {
				t.Fatalf("Cancel() = %v, %v, want cancel_at_period_end", resp, err)
			}
			wantCancelAtPeriodEnd(t, client, owner, "after cancel", true)
			for _, step := range []string{"resume", "resume again"} {
				resumed, err := client.Resume(owner, &billingv1.ResumeRequest{})
				if err != nil || resumed.GetSubscription().GetCancelAtPeriodEnd() {
					t.Fatalf("Resume(%s) = %v, %v, want cancel_at_period_end clear", step, resumed, err)
				}
				wantCancelAtPeriodEnd(t, client, owner, "after "+step, false)
			}
			if e.recorder != nil {
				if got := cancelUpdates(e.recorder); !slices.Equal(got, []string{"true", "false"}) {
					t.Errorf("Stripe was sent cancel_at_period_end %q, want [true false]", got)
				}
			}
		})
	}
}

// TestCancelAndResumeRefusals checks that only an admin of the namespace
// may resume; that a subscription that has ended is not resumed, since only
// a new one brings it back; and that one the platform's admins set by hand
// is neither canceled nor resumed by its tenant.
func TestCancelAndResumeRefusals(t *testing.T) {
	e := newEnv(t, providers[0])
	e.signup(t, providers[0], "tenant-a")
	client := e.viaProxy(t)
	dev := e.user(t, "tenant-a", "dev@example.com", "developer")
	_, err := client.Resume(dev, &billingv1.ResumeRequest{})
	statustest.WantCode(t, "Resume(as a developer)", err, codes.PermissionDenied)

	e.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED)
	owner := e.user(t, "tenant-a", "owner@example.com", "admin", "developer")
	_, err = client.Resume(owner, &billingv1.ResumeRequest{})
	statustest.WantCode(t, "Resume(ended)", err, codes.FailedPrecondition)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "ended on") || !strings.Contains(msg, "only a new one") {
		t.Errorf("Resume(ended) says %q, want when it ended and that only a new one brings it back", msg)
	}
	if r := reason(err); r != billing.ReasonSubscriptionEnded {
		t.Errorf("Resume(ended) gives the reason %q, want %q", r, billing.ReasonSubscriptionEnded)
	}
	got, err := client.GetSubscription(owner, &billingv1.GetSubscriptionRequest{})
	if err != nil || got.GetSubscription().GetStatus() != billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED {
		t.Errorf("GetSubscription(after refused resume) = %v, %v, want still canceled", got, err)
	}

	e.setStatus(t, "comped-ns", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	comped := e.user(t, "comped-ns", "owner@example.com", "admin", "developer")
	_, err = client.Cancel(comped, &billingv1.CancelRequest{})
	statustest.WantCode(t, "Cancel(set by hand)", err, codes.FailedPrecondition)
	_, err = client.Resume(comped, &billingv1.ResumeRequest{})
	statustest.WantCode(t, "Resume(set by hand)", err, codes.FailedPrecondition)
	wantCancelAtPeriodEnd(t, client, comped, "after a refused cancel", false)
}

// wantCancelAtPeriodEnd checks the caller's subscription's
// cancel_at_period_end.
func wantCancelAtPeriodEnd(t *testing.T, client billingv1.BillingServiceClient, ctx context.Context, when string, want bool) {
	t.Helper()
	got, err := client.GetSubscription(ctx, &billingv1.GetSubscriptionRequest{})
	if err != nil || got.GetSubscription().GetCancelAtPeriodEnd() != want {
		t.Errorf("GetSubscription(%s) = %v, %v, want cancel_at_period_end %v", when, got, err, want)
	}
}

// cancelUpdates returns cancel_at_period_end of each subscription update
// sent to Stripe, in order.
func cancelUpdates(rec *billingtest.Recorder) []string {
	var out []string
	for _, req := range rec.Requests() {
		if req.Method == "POST" && strings.HasPrefix(req.Path, "/v1/subscriptions/") {
			out = append(out, req.Form.Get("cancel_at_period_end"))
		}
	}
	return out
}
