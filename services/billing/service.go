package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/platform"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/internal/rpcerr"
)

// Options are what a Service needs.
type Options struct {
	// Store is a client of the store service whose mTLS identity is
	// micro/billing.
	Store Store
	// Provider takes the cards and bills the subscriptions.
	Provider Provider
	// PublicURL is the proxy's HTTP address as users open it, such as
	// https://m3o.example.com; the subscribe page is PublicURL/subscribe.
	PublicURL string
	// Logger receives the service's logs; never a card number or a
	// signature.
	Logger *slog.Logger
	// PollInterval is how often a watch looks for changes made through
	// other replicas; 0 means DefaultPollInterval.
	PollInterval time.Duration
}

// Service implements billingv1.BillingServiceServer. It keeps nothing
// another replica would need: every request reads the store, and the only
// state in process is the set of local watchers to hand changes to.
type Service struct {
	billingv1.UnimplementedBillingServiceServer

	state    state
	provider Provider
	public   *url.URL
	log      *slog.Logger
	poll     time.Duration
	now      func() time.Time
	hub      hub
}

// New returns a Service over the store client and provider in opts.
func New(opts Options) (*Service, error) {
	public, err := url.Parse(opts.PublicURL)
	switch {
	case opts.Store == nil:
		return nil, errors.New("billing: options need a store client")
	case opts.Provider == nil:
		return nil, errors.New("billing: options need a payment provider")
	case opts.Logger == nil:
		return nil, errors.New("billing: options need a logger")
	case err != nil || (public.Scheme != "http" && public.Scheme != "https") || public.Host == "":
		return nil, fmt.Errorf("billing: public URL %q is not an http or https URL", opts.PublicURL)
	case opts.PollInterval < 0:
		return nil, fmt.Errorf("billing: poll interval %s is negative", opts.PollInterval)
	}
	poll := opts.PollInterval
	if poll == 0 {
		poll = DefaultPollInterval
	}
	return &Service{
		state: newState(opts.Store), provider: opts.Provider, public: public,
		log: opts.Logger, poll: poll, now: time.Now,
	}, nil
}

// Register serves the service on srv.
func (s *Service) Register(srv grpc.ServiceRegistrar) {
	billingv1.RegisterBillingServiceServer(srv, s)
}

// StartCheckout implements billingv1.BillingServiceServer.
func (s *Service) StartCheckout(ctx context.Context, req *billingv1.StartCheckoutRequest) (*billingv1.StartCheckoutResponse, error) {
	if _, err := coreCaller(ctx, platform.Auth); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validateStartCheckout(req); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	c, err := s.startSignupCheckout(ctx, req.GetEmail(), req.GetIdempotencyKey())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.StartCheckoutResponse{Checkout: s.checkoutProto(c)}, nil
}

// GetCheckout implements billingv1.BillingServiceServer.
func (s *Service) GetCheckout(ctx context.Context, req *billingv1.GetCheckoutRequest) (*billingv1.GetCheckoutResponse, error) {
	if _, err := coreCaller(ctx, platform.Auth, platform.Router); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validateSessionID(req.GetPaymentSessionId()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	c, err := s.state.checkout(ctx, req.GetPaymentSessionId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.GetCheckoutResponse{Checkout: s.checkoutProto(c)}, nil
}

// SubmitCard implements billingv1.BillingServiceServer.
func (s *Service) SubmitCard(ctx context.Context, req *billingv1.SubmitCardRequest) (*billingv1.SubmitCardResponse, error) {
	if _, err := coreCaller(ctx, platform.Router); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	card, err := validateSubmitCard(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	c, err := s.submitCard(ctx, req.GetPaymentSessionId(), card)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.SubmitCardResponse{Checkout: s.checkoutProto(c)}, nil
}

// CreateSubscription implements billingv1.BillingServiceServer.
func (s *Service) CreateSubscription(ctx context.Context, req *billingv1.CreateSubscriptionRequest) (*billingv1.CreateSubscriptionResponse, error) {
	if _, err := coreCaller(ctx, platform.Auth); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validateCreateSubscription(req); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sub, err := s.createSubscription(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.CreateSubscriptionResponse{Subscription: subscriptionProto(sub)}, nil
}

// GetSubscription implements billingv1.BillingServiceServer.
func (s *Service) GetSubscription(ctx context.Context, req *billingv1.GetSubscriptionRequest) (*billingv1.GetSubscriptionResponse, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ns, err := readable(c, req.GetNamespace())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sub, err := s.state.subscription(ctx, ns)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.GetSubscriptionResponse{Subscription: subscriptionProto(sub)}, nil
}

// Cancel implements billingv1.BillingServiceServer.
func (s *Service) Cancel(ctx context.Context, req *billingv1.CancelRequest) (*billingv1.CancelResponse, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ns, err := manageable(c, req.GetNamespace())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sub, err := s.cancel(ctx, ns)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.CancelResponse{Subscription: subscriptionProto(sub)}, nil
}

// Resume implements billingv1.BillingServiceServer.
func (s *Service) Resume(ctx context.Context, req *billingv1.ResumeRequest) (*billingv1.ResumeResponse, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ns, err := manageable(c, req.GetNamespace())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sub, err := s.resume(ctx, ns)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.ResumeResponse{Subscription: subscriptionProto(sub)}, nil
}

// Portal implements billingv1.BillingServiceServer.
func (s *Service) Portal(ctx context.Context, req *billingv1.PortalRequest) (*billingv1.PortalResponse, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	ns, err := manageable(c, req.GetNamespace())
	if err == nil {
		err = validateReturnURL(req.GetReturnUrl())
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	u, err := s.portal(ctx, ns, req.GetReturnUrl())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.PortalResponse{Url: u}, nil
}

// ListSubscriptions implements billingv1.BillingServiceServer.
func (s *Service) ListSubscriptions(ctx context.Context, req *billingv1.ListSubscriptionsRequest) (*billingv1.ListSubscriptionsResponse, error) {
	if _, err := adminCaller(ctx); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	size, err := pageSize(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	subs, next, err := s.state.subscriptions(ctx, size, req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &billingv1.ListSubscriptionsResponse{NextPageToken: next}
	for _, sub := range subs {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionProto(sub))
	}
	return resp, nil
}

// AdminSetStatus implements billingv1.BillingServiceServer.
func (s *Service) AdminSetStatus(ctx context.Context, req *billingv1.AdminSetStatusRequest) (*billingv1.AdminSetStatusResponse, error) {
	c, err := adminCaller(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	st, err := validateSetStatus(req)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	sub, err := s.setStatus(ctx, req.GetNamespace(), st)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	s.log.InfoContext(ctx, "subscription status set by hand", "namespace", sub.Namespace, "status", sub.Status, "by", c.String())
	return &billingv1.AdminSetStatusResponse{Subscription: subscriptionProto(sub)}, nil
}

// WatchStatuses implements billingv1.BillingServiceServer.
func (s *Service) WatchStatuses(_ *billingv1.WatchStatusesRequest, stream grpc.ServerStreamingServer[billingv1.WatchStatusesResponse]) error {
	ctx := stream.Context()
	if _, err := coreCaller(ctx, platform.Router, platform.Runtime); err != nil {
		return s.toStatus(ctx, err)
	}
	return s.toStatus(ctx, s.watch(ctx, stream.Send))
}

// HandleWebhook implements billingv1.BillingServiceServer.
func (s *Service) HandleWebhook(ctx context.Context, req *billingv1.HandleWebhookRequest) (*billingv1.HandleWebhookResponse, error) {
	if _, err := coreCaller(ctx, platform.Router); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if err := validateWebhook(req); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	applied, err := s.handleWebhook(ctx, req.GetPayload(), req.GetSignature())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &billingv1.HandleWebhookResponse{Applied: applied}, nil
}
