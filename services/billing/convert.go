package billing

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// DeveloperPlan is the developer plan as the API shows it.
func DeveloperPlan() *billingv1.Plan {
	return &billingv1.Plan{Name: PlanDeveloper, AmountCents: PlanAmountCents, Currency: PlanCurrency, Interval: PlanInterval}
}

var statusToProto = map[Status]billingv1.SubscriptionStatus{
	StatusActive:     billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE,
	StatusPastDue:    billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE,
	StatusCanceled:   billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED,
	StatusIncomplete: billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_INCOMPLETE,
}

// statusFromProto returns the Status of a proto status, and false for
// UNSPECIFIED or a value this release does not know.
func statusFromProto(p billingv1.SubscriptionStatus) (Status, bool) {
	for st, v := range statusToProto {
		if v == p {
			return st, true
		}
	}
	return "", false
}

var purposeToProto = map[Purpose]billingv1.CheckoutPurpose{
	PurposeSignup:      billingv1.CheckoutPurpose_CHECKOUT_PURPOSE_SIGNUP,
	PurposeUpdateCard:  billingv1.CheckoutPurpose_CHECKOUT_PURPOSE_UPDATE_CARD,
	PurposeResubscribe: billingv1.CheckoutPurpose_CHECKOUT_PURPOSE_RESUBSCRIBE,
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func subscriptionProto(s Subscription) *billingv1.Subscription {
	return &billingv1.Subscription{
		Namespace:         s.Namespace,
		Account:           s.Account,
		Email:             s.Email,
		Plan:              DeveloperPlan(),
		Status:            statusToProto[s.Status],
		StatusSince:       timestamp(s.StatusSince),
		CurrentPeriodEnd:  timestamp(s.PeriodEnd),
		CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		Provider:          s.Provider,
		ProviderId:        s.ProviderID,
		Customer:          s.Customer,
		Created:           timestamp(s.Created),
	}
}

func (s *Service) checkoutProto(c Checkout) *billingv1.Checkout {
	state := billingv1.CheckoutState_CHECKOUT_STATE_OPEN
	if c.Complete {
		state = billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE
	}
	return &billingv1.Checkout{
		Id:          c.ID,
		Url:         s.pageURL(c.ID),
		State:       state,
		Purpose:     purposeToProto[c.Purpose],
		Namespace:   c.Namespace,
		Email:       c.Email,
		Plan:        DeveloperPlan(),
		Provider:    c.Provider,
		ProviderUrl: c.ProviderURL,
		Customer:    c.Customer,
		ExpiresAt:   timestamp(c.ExpiresAt),
	}
}

func namespaceStatus(c change) *billingv1.NamespaceStatus {
	return &billingv1.NamespaceStatus{
		Namespace:         c.Namespace,
		Status:            statusToProto[c.Status],
		StatusSince:       timestamp(c.StatusSince),
		CurrentPeriodEnd:  timestamp(c.PeriodEnd),
		CancelAtPeriodEnd: c.CancelAtPeriodEnd,
		Revision:          c.Revision,
	}
}
