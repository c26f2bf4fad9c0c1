package auth

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// errBillingUnavailable means the billing service could not be reached or
// could not reach its payment provider; the caller may retry.
var errBillingUnavailable = errors.New("billing unavailable")

// reasonCardDeclined is billing's ErrorInfo reason for a declined card.
const reasonCardDeclined = "CARD_DECLINED"

// startPayment returns the subscribe page of the sign-up of token. The
// payment session's idempotency key derives from the sign-up's id, so
// every call for one sign-up gets the same session while billing keeps
// it; the URL carries the session's id, never the token.
func (s *Service) startPayment(ctx context.Context, token string) (string, error) {
	rec, err := s.signupOf(ctx, token)
	if err != nil {
		return "", err
	}
	if rec.Subscribed {
		return rec.SubscribeURL, nil
	}
	if s.billing == nil {
		return "", ErrSignupOff
	}
	resp, err := s.billing.StartCheckout(ctx, &billingv1.StartCheckoutRequest{Email: rec.Email, IdempotencyKey: rec.checkoutKey()})
	if err != nil {
		return "", billingError("open a payment session", err)
	}
	co := resp.GetCheckout()
	if co.GetId() == rec.PaymentSession && co.GetUrl() == rec.SubscribeURL {
		return co.GetUrl(), nil
	}
	_, err = s.updateSignup(ctx, rec.Email, func(r *signupRecord) error {
		if r.ID != rec.ID || r.Subscribed {
			return fmt.Errorf("the sign-up changed meanwhile; try again: %w", ErrConflict)
		}
		r.PaymentSession, r.SubscribeURL = co.GetId(), co.GetUrl()
		return nil
	})
	return co.GetUrl(), err
}

// paymentStatus reports whether the subscribe page of the sign-up of token
// has a payment method in place, and the page.
func (s *Service) paymentStatus(ctx context.Context, token string) (bool, string, error) {
	rec, err := s.signupOf(ctx, token)
	if err != nil {
		return false, "", err
	}
	ready, err := s.cardInPlace(ctx, rec)
	return ready, rec.SubscribeURL, err
}

// cardInPlace reports whether billing's payment session of rec has a
// payment method in place, or rec is subscribed already.
func (s *Service) cardInPlace(ctx context.Context, rec signupRecord) (bool, error) {
	switch {
	case rec.Subscribed:
		return true, nil
	case rec.PaymentSession == "":
		return false, fmt.Errorf("no payment has started: call StartPayment for the subscribe page first: %w", ErrFailedPrecondition)
	case s.billing == nil:
		return false, ErrSignupOff
	}
	resp, err := s.billing.GetCheckout(ctx, &billingv1.GetCheckoutRequest{PaymentSessionId: rec.PaymentSession})
	if err != nil {
		return false, billingError("read the payment session", err)
	}
	return resp.GetCheckout().GetState() == billingv1.CheckoutState_CHECKOUT_STATE_COMPLETE, nil
}

// requirePayment refuses to go on with a sign-up whose card is not in
// place, before anything is reserved for it.
func (s *Service) requirePayment(ctx context.Context, rec signupRecord) error {
	ready, err := s.cardInPlace(ctx, rec)
	if err == nil && !ready {
		err = fmt.Errorf("no payment method is in place yet: finish the subscribe page first: %w", ErrFailedPrecondition)
	}
	return err
}

// billingError decides what billing's refusal of action means to someone
// signing up: that the payment is not in place, or that billing cannot be
// reached. Anything else is a fault, reported as Internal and logged with
// billing's own words.
func billingError(action string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.FailedPrecondition:
		if declinedCard(st) {
			return fmt.Errorf("the card was declined: pay with another card on the subscribe page: %w", ErrFailedPrecondition)
		}
		return fmt.Errorf("no payment method is in place yet: finish the subscribe page first: %w", ErrFailedPrecondition)
	case codes.NotFound:
		return fmt.Errorf("the payment session has expired: start the payment again: %w", ErrFailedPrecondition)
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return fmt.Errorf("%s: %s: %w", action, st.Message(), errBillingUnavailable)
	case codes.Canceled:
		return fmt.Errorf("%s: %w", action, context.Canceled)
	}
	return fmt.Errorf("%s: billing answered %s: %s", action, st.Code(), st.Message())
}

// declinedCard reports whether st is billing's refusal of a card.
func declinedCard(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reasonCardDeclined {
			return true
		}
	}
	return false
}
