// Command billing serves m3o.billing.v1.BillingService on its own, as it
// runs in production; `micro server` runs the same service in one process
// with the others.
//
// Stripe's secrets come from the environment only, never from flags, whose
// values show in a process listing: MICRO_BILLING_STRIPE_KEY is the API key
// and MICRO_BILLING_STRIPE_WEBHOOK_SECRET the webhook signing secret.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/billingserver"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/internal/corekit"
)

// The environment variables that hold Stripe's secrets.
const (
	stripeKeyEnv    = "MICRO_BILLING_STRIPE_KEY"
	stripeSecretEnv = "MICRO_BILLING_STRIPE_WEBHOOK_SECRET"
)

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the billing service's own.
func newApp() *cli.App {
	return corekit.App(billingserver.Spec, flags(), run)
}

// flags are the billing service's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Billing)
	return []cli.Flag{
		f.String("provider", local.Name, "payment provider: local (test cards, nothing leaves the machine) or stripe"),
		f.String("public-url", "", "`URL` users open the proxy's HTTP address at; the subscribe page is URL/subscribe"),
		f.String("stripe-price", "", "Stripe `PRICE` id of the developer plan, $35.00 a month (stripe provider)"),
		f.String("stripe-api-url", "", "Stripe API base `URL`; empty is Stripe's own (stripe provider)"),
		f.Duration("poll-interval", 0, "how often status watches look for changes from other replicas"),
	}
}

// run builds the provider and serves until ctx ends.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	provider, err := newProvider(c, p.Logger, os.Getenv(stripeKeyEnv), os.Getenv(stripeSecretEnv))
	if err != nil {
		return err
	}
	cfg := billingserver.Config{Provider: provider, PublicURL: c.String("public-url"), PollInterval: c.Duration("poll-interval")}
	return billingserver.Run(ctx, cfg, p)
}

// newProvider is the payment provider --provider names.
func newProvider(c *cli.Context, logger *slog.Logger, key, secret string) (billing.Provider, error) {
	switch name := c.String("provider"); name {
	case local.Name:
		return local.New(), nil
	case stripe.Name:
		p, err := stripe.New(stripe.Options{
			Key: key, WebhookSecret: secret, Price: c.String("stripe-price"), URL: c.String("stripe-api-url"), Logger: logger,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %w (the key comes from %s, the webhook secret from %s)", corekit.ErrConfig, err, stripeKeyEnv, stripeSecretEnv)
		}
		return p, nil
	default:
		return nil, fmt.Errorf("%w: --provider %q is not local or stripe", corekit.ErrConfig, name)
	}
}
