package billing_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing/local"
)

// caller is one identity calling billing: a context (with a token or not)
// and a client whose connection presents some mTLS identity.
type caller struct {
	ctx    context.Context
	client billingv1.BillingServiceClient
}

// callers are every kind of identity, keyed by the column names of the
// isolation matrix.
func callers(t *testing.T, e *env) map[string]caller {
	proxy := e.viaProxy(t)
	core := func(svc string) caller { return caller{t.Context(), e.core(t, svc)} }
	return map[string]caller{
		"anonymous":      {t.Context(), proxy},
		"tenant-a/dev":   {e.user(t, "tenant-a", "dev@example.com", "developer"), proxy},
		"tenant-a/admin": {e.user(t, "tenant-a", "owner@example.com", "admin", "developer"), proxy},
		"tenant-b/admin": {e.user(t, "tenant-b", "other@example.com", "admin", "developer"), proxy},
		"micro/admin":    {e.admin, proxy},
		"workload":       {t.Context(), e.client(t, platform.Billing, "tenant-a", "hello")},
		"micro/auth":     core(platform.Auth),
		"micro/router":   core(platform.Router),
		"micro/runtime":  core(platform.Runtime),
		"micro/config":   core(platform.Config),
	}
}

// TestIsolation is the matrix of who may call what: a tenant reads only its
// own subscription and manages it only as its admin; invites aside, other
// namespaces' billing, the listing and the admin override are for admins
// of micro; the sign-up calls are auth's, the page's and the webhook's are
// the router's. Every other cell is refused.
func TestIsolation(t *testing.T) {
	e := newEnv(t, providers[0])
	e.signup(t, providers[0], "tenant-a")
	session := e.openSession(t)
	who := callers(t, e)
	tests := []struct {
		rpc     string
		call    func(caller) error
		allowed []string
	}{
		{"StartCheckout", func(c caller) error {
			_, err := c.client.StartCheckout(c.ctx, &billingv1.StartCheckoutRequest{Email: "x@example.com", IdempotencyKey: "isolation-key"})
			return err
		}, []string{"micro/auth"}},
		{"GetCheckout", func(c caller) error {
			_, err := c.client.GetCheckout(c.ctx, &billingv1.GetCheckoutRequest{PaymentSessionId: session})
			return err
		}, []string{"micro/auth", "micro/router"}},
		{"SubmitCard", func(c caller) error {
			_, err := c.client.SubmitCard(c.ctx, &billingv1.SubmitCardRequest{PaymentSessionId: session, Card: local.CardAccepted})
			return err
		}, []string{"micro/router"}},
		{"CreateSubscription", func(c caller) error {
			_, err := c.client.CreateSubscription(c.ctx, &billingv1.CreateSubscriptionRequest{
				Namespace: "tenant-a", Account: "acc-tenant-a", Email: "tenant-a@example.com", PaymentSessionId: session, IdempotencyKey: "subscribe-tenant-a",
			})
			return err
		}, []string{"micro/auth"}},
		{"GetSubscription(tenant-a)", func(c caller) error {
			_, err := c.client.GetSubscription(c.ctx, &billingv1.GetSubscriptionRequest{Namespace: "tenant-a"})
			return err
		}, []string{"tenant-a/dev", "tenant-a/admin", "micro/admin", "micro/auth", "micro/runtime"}},
		{"Cancel(tenant-a)", func(c caller) error {
			_, err := c.client.Cancel(c.ctx, &billingv1.CancelRequest{Namespace: "tenant-a"})
			return err
		}, []string{"tenant-a/admin", "micro/admin"}},
		{"Resume(tenant-a)", func(c caller) error {
			_, err := c.client.Resume(c.ctx, &billingv1.ResumeRequest{Namespace: "tenant-a"})
			return err
		}, []string{"tenant-a/admin", "micro/admin"}},
		{"Portal(tenant-a)", func(c caller) error {
			_, err := c.client.Portal(c.ctx, &billingv1.PortalRequest{Namespace: "tenant-a"})
			return err
		}, []string{"tenant-a/admin", "micro/admin"}},
		{"ListSubscriptions", func(c caller) error {
			_, err := c.client.ListSubscriptions(c.ctx, &billingv1.ListSubscriptionsRequest{})
			return err
		}, []string{"micro/admin"}},
		{"AdminSetStatus(tenant-a)", func(c caller) error {
			_, err := c.client.AdminSetStatus(c.ctx, &billingv1.AdminSetStatusRequest{Namespace: "tenant-a", Status: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE})
			return err
		}, []string{"micro/admin"}},
		{"WatchStatuses", watchOnce, []string{"micro/router", "micro/runtime"}},
		{"HandleWebhook", func(c caller) error {
			_, err := c.client.HandleWebhook(c.ctx, &billingv1.HandleWebhookRequest{Payload: []byte("{}"), Signature: "t=1,v1=00"})
			return err
		}, []string{"micro/router"}},
	}
	for _, tt := range tests {
		for name, c := range who {
			t.Run(tt.rpc+"/"+name, func(t *testing.T) {
				checkCell(t, tt.rpc, name, tt.call(c), slices.Contains(tt.allowed, name))
			})
		}
	}
}

// checkCell checks one cell of the matrix: a refused call is
// Unauthenticated for a caller with no identity, PermissionDenied for any
// other; an allowed one may fail for other reasons, never those.
func checkCell(t *testing.T, rpc, name string, err error, allowed bool) {
	t.Helper()
	code := status.Code(err)
	denied := code == codes.PermissionDenied || code == codes.Unauthenticated
	switch {
	case allowed && denied:
		t.Errorf("%s as %s = %v, want it allowed", rpc, name, err)
	case !allowed && !denied:
		t.Errorf("%s as %s = %v, want PermissionDenied or Unauthenticated", rpc, name, err)
	case name == "anonymous" && code != codes.Unauthenticated:
		t.Errorf("%s anonymously = %v, want Unauthenticated", rpc, err)
	}
}

// watchOnce opens a status watch and reads its first message.
func watchOnce(c caller) error {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stream, err := c.client.WatchStatuses(ctx, &billingv1.WatchStatusesRequest{})
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// openSession starts a sign-up session as auth and returns its id.
func (e *env) openSession(t *testing.T) string {
	t.Helper()
	resp, err := e.core(t, platform.Auth).StartCheckout(t.Context(), &billingv1.StartCheckoutRequest{Email: "x@example.com", IdempotencyKey: "isolation-key"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetCheckout().GetId()
}
