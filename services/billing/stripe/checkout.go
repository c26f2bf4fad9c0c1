package stripe

import (
	"context"

	stripego "github.com/stripe/stripe-go/v82"

	"m3o.dev/services/billing"
)

// StartCheckout implements billing.Provider: a customer for the email
// unless one is given, then a hosted Checkout Session that returns to the
// platform's pages. A sign-up saves the card (setup mode); a resubscribe
// pays for a new subscription (subscription mode).
func (p *Provider) StartCheckout(ctx context.Context, cp billing.CheckoutParams) (billing.ProviderCheckout, error) {
	customer := cp.Customer
	if customer == "" {
		c, err := p.createCustomer(ctx, cp)
		if err != nil {
			return billing.ProviderCheckout{}, err
		}
		customer = c
	}
	s, err := p.client.V1CheckoutSessions.Create(ctx, p.sessionParams(cp, customer))
	if err != nil {
		return billing.ProviderCheckout{}, providerError("create checkout session", err)
	}
	return billing.ProviderCheckout{ID: s.ID, URL: s.URL, Customer: customer}, nil
}

func (p *Provider) createCustomer(ctx context.Context, cp billing.CheckoutParams) (string, error) {
	params := &stripego.CustomerCreateParams{
		Email:    stripego.String(cp.Email),
		Metadata: map[string]string{metaSession: cp.SessionID},
	}
	params.SetIdempotencyKey("m3o-" + cp.Key + "-customer")
	c, err := p.client.V1Customers.Create(ctx, params)
	if err != nil {
		return "", providerError("create customer", err)
	}
	return c.ID, nil
}

// sessionParams describe the Checkout Session of cp.
func (p *Provider) sessionParams(cp billing.CheckoutParams, customer string) *stripego.CheckoutSessionCreateParams {
	meta := map[string]string{metaSession: cp.SessionID}
	if cp.Namespace != "" {
		meta[metaNamespace] = cp.Namespace
	}
	params := &stripego.CheckoutSessionCreateParams{
		Customer:           stripego.String(customer),
		ClientReferenceID:  stripego.String(cp.SessionID),
		SuccessURL:         stripego.String(cp.DoneURL),
		CancelURL:          stripego.String(cp.PageURL),
		PaymentMethodTypes: []*string{stripego.String("card")},
		Metadata:           meta,
	}
	if cp.Purpose == billing.PurposeResubscribe {
		params.Mode = stripego.String(string(stripego.CheckoutSessionModeSubscription))
		params.LineItems = []*stripego.CheckoutSessionCreateLineItemParams{{Price: stripego.String(p.price), Quantity: stripego.Int64(1)}}
		params.SubscriptionData = &stripego.CheckoutSessionCreateSubscriptionDataParams{Metadata: map[string]string{metaNamespace: cp.Namespace}}
	} else {
		params.Mode = stripego.String(string(stripego.CheckoutSessionModeSetup))
		params.Currency = stripego.String(billing.PlanCurrency)
	}
	params.SetIdempotencyKey("m3o-" + cp.Key + "-session")
	return params
}

// Subscribe implements billing.Provider: the card the sign-up's Checkout
// saved becomes the subscription's payment method.
func (p *Provider) Subscribe(ctx context.Context, sp billing.SubscribeParams) (billing.ProviderSubscription, error) {
	params := &stripego.SubscriptionCreateParams{
		Customer: stripego.String(sp.Customer),
		Items:    []*stripego.SubscriptionCreateItemParams{{Price: stripego.String(p.price)}},
		Metadata: map[string]string{metaNamespace: sp.Namespace, metaAccount: sp.Account},
	}
	if sp.SetupIntent != "" {
		pm, err := p.paymentMethod(ctx, sp.SetupIntent)
		if err != nil {
			return billing.ProviderSubscription{}, err
		}
		params.DefaultPaymentMethod = stripego.String(pm)
	}
	params.SetIdempotencyKey("m3o-" + sp.Key)
	s, err := p.client.V1Subscriptions.Create(ctx, params)
	if err != nil {
		return billing.ProviderSubscription{}, providerError("create subscription", err)
	}
	return billing.ProviderSubscription{ID: s.ID, Status: statusOf(s.Status), PeriodEnd: periodEnd(s)}, nil
}

// paymentMethod returns the card a SetupIntent saved.
func (p *Provider) paymentMethod(ctx context.Context, setupIntent string) (string, error) {
	si, err := p.client.V1SetupIntents.Retrieve(ctx, setupIntent, nil)
	if err != nil {
		return "", providerError("read setup intent", err)
	}
	if si.PaymentMethod == nil {
		return "", nil
	}
	return si.PaymentMethod.ID, nil
}
