package platformtest

import (
	"context"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// billingService keeps one subscription, the logged-in namespace's, active
// until told otherwise.
type billingService struct {
	billingv1.UnimplementedBillingServiceServer
	p *Platform
}

// subscription returns the namespace's subscription as it stands.
func (s *billingService) subscription(ns string) *billingv1.Subscription {
	if ns == "" {
		ns = Namespace
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return &billingv1.Subscription{
		Namespace: ns, Plan: &billingv1.Plan{Name: "developer", AmountCents: 3500, Currency: "usd", Interval: "month"},
		Status: s.p.billingStatus, CancelAtPeriodEnd: s.p.canceling,
		CurrentPeriodEnd: timestamp(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), Provider: "local",
	}
}

// ExemptNamespace is a namespace an admin made, which has no subscription.
const ExemptNamespace = "tenant-b"

// GetSubscription implements billingv1.BillingServiceServer.
func (s *billingService) GetSubscription(_ context.Context, req *billingv1.GetSubscriptionRequest) (*billingv1.GetSubscriptionResponse, error) {
	if req.GetNamespace() == ExemptNamespace {
		return nil, status.Errorf(codes.NotFound, "namespace %s has no subscription", ExemptNamespace)
	}
	return &billingv1.GetSubscriptionResponse{Subscription: s.subscription(req.GetNamespace())}, nil
}

// Cancel implements billingv1.BillingServiceServer.
func (s *billingService) Cancel(_ context.Context, req *billingv1.CancelRequest) (*billingv1.CancelResponse, error) {
	s.p.mu.Lock()
	s.p.canceling = true
	s.p.mu.Unlock()
	return &billingv1.CancelResponse{Subscription: s.subscription(req.GetNamespace())}, nil
}

// Resume implements billingv1.BillingServiceServer: a canceled
// subscription has ended, and is refused as billing refuses it.
func (s *billingService) Resume(_ context.Context, req *billingv1.ResumeRequest) (*billingv1.ResumeResponse, error) {
	sub := s.subscription(req.GetNamespace())
	if sub.GetStatus() == billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED {
		st := status.Newf(codes.FailedPrecondition, "subscription of namespace %q ended on %s, so only a new one brings it back",
			sub.GetNamespace(), sub.GetCurrentPeriodEnd().AsTime().Format(time.DateOnly))
		st, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "SUBSCRIPTION_ENDED", Domain: "m3o.dev"})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	s.p.mu.Lock()
	s.p.canceling = false
	s.p.mu.Unlock()
	return &billingv1.ResumeResponse{Subscription: s.subscription(req.GetNamespace())}, nil
}

// Portal implements billingv1.BillingServiceServer.
func (s *billingService) Portal(context.Context, *billingv1.PortalRequest) (*billingv1.PortalResponse, error) {
	return &billingv1.PortalResponse{Url: "https://m3o.test/subscribe?session=ps_test"}, nil
}

// AdminSetStatus implements billingv1.BillingServiceServer.
func (s *billingService) AdminSetStatus(_ context.Context, req *billingv1.AdminSetStatusRequest) (*billingv1.AdminSetStatusResponse, error) {
	s.p.mu.Lock()
	s.p.billingStatus = req.GetStatus()
	s.p.mu.Unlock()
	return &billingv1.AdminSetStatusResponse{Subscription: s.subscription(req.GetNamespace())}, nil
}
