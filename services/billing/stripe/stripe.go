// Package stripe is the payment provider backed by Stripe's API, through
// stripe-go.
//
// A sign-up's card is taken by Stripe Checkout in setup mode: Stripe keeps
// the card on a customer made for the email, and the subscription to the
// developer price is created only when the sign-up completes, so nobody is
// billed for a sign-up they abandon. Cards change in Stripe's billing
// portal; after a cancel, Checkout in subscription mode starts a new
// subscription. Every request that creates something carries an
// idempotency key derived from the platform's own.
//
// Webhooks are verified with webhook.ConstructEvent before anything is read
// from them. The events applied are checkout.session.completed and
// customer.subscription.created, .updated and .deleted; the subscription's
// own status carries what invoice events would say.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	stripego "github.com/stripe/stripe-go/v82"

	"m3o.dev/services/billing"
)

// Name is the provider's name.
const Name = "stripe"

// Metadata keys set on Stripe's objects, read back from webhook events.
const (
	metaSession   = "m3o_session"
	metaNamespace = "m3o_namespace"
	metaAccount   = "m3o_account"
)

// Options configure the provider.
type Options struct {
	// Key is the secret API key (sk_test_… or sk_live_…).
	Key string
	// WebhookSecret verifies webhook signatures (whsec_…).
	WebhookSecret string
	// Price is the id of the developer plan's price (price_…): 3500 cents
	// a month.
	Price string
	// URL is the API's base URL; empty is Stripe's. Tests point it at
	// stripe-mock.
	URL string
	// HTTPClient makes the requests; nil is http.DefaultClient's
	// equivalent with a timeout.
	HTTPClient *http.Client
	// Logger receives stripe-go's own warnings; nil discards them.
	Logger *slog.Logger
}

// Provider is the Stripe payment provider.
type Provider struct {
	client *stripego.Client
	secret string
	price  string
}

var _ billing.Provider = (*Provider)(nil)

// New returns the provider that opts describe.
func New(opts Options) (*Provider, error) {
	switch {
	case opts.Key == "":
		return nil, errors.New("stripe: an API key is required")
	case opts.WebhookSecret == "":
		return nil, errors.New("stripe: a webhook signing secret is required")
	case opts.Price == "":
		return nil, errors.New("stripe: the developer plan's price id is required")
	}
	cfg := &stripego.BackendConfig{HTTPClient: opts.HTTPClient, LeveledLogger: leveledLogger(opts.Logger)}
	if opts.URL != "" {
		cfg.URL = stripego.String(opts.URL)
	}
	backends := stripego.NewBackendsWithConfig(cfg)
	return &Provider{
		client: stripego.NewClient(opts.Key, stripego.WithBackends(backends)),
		secret: opts.WebhookSecret,
		price:  opts.Price,
	}, nil
}

// Name implements billing.Provider.
func (p *Provider) Name() string { return Name }

// TakeCard implements billing.Provider: Stripe Checkout takes the card,
// never the platform.
func (p *Provider) TakeCard(context.Context, string) error {
	return fmt.Errorf("cards are entered on Stripe Checkout: %w", billing.ErrUnsupported)
}

// Cancel implements billing.Provider.
func (p *Provider) Cancel(ctx context.Context, sub billing.Subscription) error {
	return providerError("cancel subscription", p.setCancelAtPeriodEnd(ctx, sub, true))
}

// Resume implements billing.Provider.
func (p *Provider) Resume(ctx context.Context, sub billing.Subscription) error {
	return providerError("resume subscription", p.setCancelAtPeriodEnd(ctx, sub, false))
}

func (p *Provider) setCancelAtPeriodEnd(ctx context.Context, sub billing.Subscription, cancel bool) error {
	params := &stripego.SubscriptionUpdateParams{CancelAtPeriodEnd: stripego.Bool(cancel)}
	_, err := p.client.V1Subscriptions.Update(ctx, sub.ProviderID, params)
	return err
}

// Portal implements billing.Provider.
func (p *Provider) Portal(ctx context.Context, sub billing.Subscription, returnURL string) (string, error) {
	params := &stripego.BillingPortalSessionCreateParams{Customer: stripego.String(sub.Customer)}
	if returnURL != "" {
		params.ReturnURL = stripego.String(returnURL)
	}
	s, err := p.client.V1BillingPortalSessions.Create(ctx, params)
	if err != nil {
		return "", providerError("create portal session", err)
	}
	return s.URL, nil
}

// providerError says what a Stripe error means to billing: a declined card,
// a provider that could not answer (ErrProvider, worth a retry), or a
// request Stripe refused, which is a fault of the platform's to log.
func providerError(op string, err error) error {
	if err == nil {
		return nil
	}
	var se *stripego.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe %s: %w: %w", op, billing.ErrProvider, err)
	}
	switch {
	case se.Type == stripego.ErrorTypeCard:
		return fmt.Errorf("stripe %s: %s: %w", op, se.Code, billing.ErrDeclined)
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 0:
		return fmt.Errorf("stripe %s: %s: %w", op, se.Msg, billing.ErrProvider)
	}
	return fmt.Errorf("stripe %s: %s (%s, HTTP %d)", op, se.Msg, se.Code, se.HTTPStatusCode)
}

// leveledLogger passes stripe-go's warnings and errors to logger.
func leveledLogger(logger *slog.Logger) stripego.LeveledLoggerInterface {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return slogLeveled{logger}
}

type slogLeveled struct{ l *slog.Logger }

func (s slogLeveled) Debugf(string, ...any)          {}
func (s slogLeveled) Infof(string, ...any)           {}
func (s slogLeveled) Warnf(format string, v ...any)  { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s slogLeveled) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
