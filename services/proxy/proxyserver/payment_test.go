package proxyserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	platforms "m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/proxy"
	"m3o.dev/services/proxy/proxyserver"
)

// billed is a platform with billing behind the proxy: store, auth, billing
// with provider, and the proxy with grace, all on mTLS loopback.
type billed struct {
	*coretest.Platform
	admin context.Context
}

// newBilled starts the platform; the proxy gates payments with grace.
func newBilled(t *testing.T, provider billing.Provider, grace time.Duration) *billed {
	t.Helper()
	p := coretest.New(t, platforms.Store, platforms.Auth, platforms.Billing, platforms.Proxy, "http")
	p.ServeStore(t)
	p.ServeAuth(t)
	p.ServeBilling(t, provider, "http://"+p.Addr("http"))
	cfg := proxyserver.Config{
		HTTPListener: p.Listener("http"), Router: routerBundle(t, p),
		RateLimit: proxy.RateLimit{PerSecond: 1000, Burst: 1000}, PaymentGrace: grace,
	}
	proc := p.Process(t, platforms.Proxy)
	coretest.Go(t, "proxyserver.Run", func(ctx context.Context) error { return proxyserver.Run(ctx, cfg, proc) })
	b := &billed{Platform: p}
	_, tok := p.Login(t, platforms.Namespace, "admin", coretest.AdminPassword)
	b.admin = identity.WithBearer(t.Context(), tok)
	return b
}

// conn connects to the proxy's public port as the CLI does: TLS that
// trusts the platform CA, no client certificate.
func (b *billed) conn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	creds := credentials.NewTLS(mtls.ClientRootsConfig(b.CA.Pool(), ""))
	conn, err := grpc.NewClient(b.Addr(platforms.Proxy), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func routerBundle(t *testing.T, p *coretest.Platform) *mtls.Bundle {
	return mtlstest.Bundle(t, p.CA, platforms.Namespace, platforms.Router)
}

// setStatus sets ns's status through the proxy as the admin.
func (b *billed) setStatus(t *testing.T, ns string, st billingv1.SubscriptionStatus) {
	t.Helper()
	client := billingv1.NewBillingServiceClient(b.conn(t))
	coretest.Eventually(t, "AdminSetStatus through the proxy", func() error {
		_, err := client.AdminSetStatus(b.admin, &billingv1.AdminSetStatusRequest{Namespace: ns, Status: st})
		return err
	})
}

// write writes a record as the holder of ctx through the proxy.
func write(ctx context.Context, conn *grpc.ClientConn, header *metadata.MD) error {
	_, err := storev1.NewStoreServiceClient(conn).Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: "k", Value: []byte("v")}}, grpc.Header(header))
	return err
}

// paymentRequired returns nil when err is the gate's refusal naming ns and
// status.
func paymentRequired(err error, ns, st string) error {
	s := status.Convert(err)
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == proxy.ReasonPaymentRequired {
			if s.Code() != codes.FailedPrecondition || info.GetMetadata()["namespace"] != ns || info.GetMetadata()["status"] != st {
				return fmt.Errorf("refusal %v with %v, want FailedPrecondition naming %s and %s", s.Code(), info.GetMetadata(), ns, st)
			}
			return nil
		}
	}
	return fmt.Errorf("got %v, want FailedPrecondition PAYMENT_REQUIRED", err)
}

// TestPaymentGate gates a namespace as the e2e does, with no grace: past
// due stops its calls but auth's and billing's, over gRPC and as HTTP 402
// on the gateway; active again lets them through. Namespaces without a
// subscription are never gated. The delay from AdminSetStatus to the first
// refusal is logged, not asserted.
func TestPaymentGate(t *testing.T) {
	b := newBilled(t, local.New(), 0)
	b.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	_, alice := b.Account(t, "tenant-a", "alice")
	_, bob := b.Account(t, "tenant-b", "bob")
	conn := b.conn(t)
	aliceCtx, bobCtx := identity.WithBearer(t.Context(), alice), identity.WithBearer(t.Context(), bob)
	coretest.Eventually(t, "alice writes while active", func() error { return write(aliceCtx, conn, new(metadata.MD)) })

	start := time.Now()
	b.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE)
	coretest.Eventually(t, "alice refused while past due", func() error {
		return paymentRequired(write(aliceCtx, conn, new(metadata.MD)), "tenant-a", "past_due")
	})
	t.Logf("gating delay: AdminSetStatus(past_due) to the first refusal through the proxy took %s", time.Since(start))

	if err := write(bobCtx, conn, new(metadata.MD)); err != nil {
		t.Errorf("bob (tenant-b, not billed) Write() = %v, want it to work", err)
	}
	if _, err := billingv1.NewBillingServiceClient(conn).GetSubscription(aliceCtx, &billingv1.GetSubscriptionRequest{}); err != nil {
		t.Errorf("alice GetSubscription() while gated = %v, want billing reachable", err)
	}
	if err := wantStatus("http://"+b.Addr("http")+"/v1/store/write", `{"record":{"key":"k","value":"dg=="}}`, "Bearer "+alice, http.StatusPaymentRequired); err != nil {
		t.Errorf("gateway write while gated: %v", err)
	}
	// A call to one of the namespace's own services over HTTP is gated
	// as well, before the gateway asks the service what it serves.
	if err := wantStatus("http://"+b.Addr("http")+"/v1/call/hello/Hello.Call", `{"name":"Ann"}`, "Bearer "+alice, http.StatusPaymentRequired); err != nil {
		t.Errorf("gateway call to alice's service while gated: %v", err)
	}

	b.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE)
	coretest.Eventually(t, "alice writes after paying", func() error { return write(aliceCtx, conn, new(metadata.MD)) })
}

// TestPaymentGraceWarns checks that a past-due namespace within its grace
// period keeps working and is warned in a response header.
func TestPaymentGraceWarns(t *testing.T) {
	b := newBilled(t, local.New(), time.Hour)
	b.setStatus(t, "tenant-a", billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE)
	_, alice := b.Account(t, "tenant-a", "alice")
	conn, ctx := b.conn(t), identity.WithBearer(t.Context(), alice)
	coretest.Eventually(t, "a warning on alice's write", func() error {
		var header metadata.MD
		if err := write(ctx, conn, &header); err != nil {
			return err
		}
		warning := strings.Join(header.Get(proxy.PaymentWarningHeader), "")
		if !strings.Contains(warning, "tenant-a") || !strings.Contains(warning, "micro billing portal") {
			return errors.New("no payment warning header yet: " + warning)
		}
		return nil
	})
}
