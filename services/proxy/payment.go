package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/identity"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
)

// ErrPaymentRequired means the caller's namespace must pay before it may
// make the call; the error is a *PaymentRequiredError.
var ErrPaymentRequired = errors.New("payment required")

// PaymentWarningHeader is the response header a call of a namespace in its
// grace period carries: one sentence for the CLI to print on stderr.
const PaymentWarningHeader = "m3o-payment-warning"

// ReasonPaymentRequired is the ErrorInfo reason of a gated call.
const ReasonPaymentRequired = "PAYMENT_REQUIRED"

// ungated are the APIs a namespace that must pay still reaches: logging in
// and signing up (auth) and paying (billing).
var ungated = []string{"m3o.auth.v1.", "m3o.billing.v1."}

// PaymentRequiredError is a call refused because its namespace must pay.
type PaymentRequiredError struct {
	// Namespace is the caller's namespace.
	Namespace string
	// Status is its subscription's status: "past_due", "canceled" or
	// "incomplete".
	Status string
}

// Error implements error.
func (e *PaymentRequiredError) Error() string {
	return fmt.Sprintf("namespace %q: subscription %s: %v", e.Namespace, e.Status, ErrPaymentRequired)
}

// Is makes errors.Is(err, ErrPaymentRequired) hold.
func (e *PaymentRequiredError) Is(target error) bool { return target == ErrPaymentRequired }

// PaymentGate refuses the calls of namespaces whose subscription requires
// payment, deciding from billing's standings cache: no call to billing per
// request.
type PaymentGate struct {
	*billing.Standings
}

// NewPaymentGate returns a gate that lets past-due namespaces work for
// grace, with an empty cache; Run keeps it current.
func NewPaymentGate(grace time.Duration, logger *slog.Logger) *PaymentGate {
	return &PaymentGate{Standings: billing.NewStandings(grace, logger)}
}

// Check decides a call of caller to service: a gated namespace gets a
// *PaymentRequiredError; one in its grace period goes through with the
// warning header set on the response.
func (g *PaymentGate) Check(ctx context.Context, caller identity.Caller, service string) error {
	if caller.Namespace == "" || isUngated(service) {
		return nil
	}
	standing, st := g.Standing(caller.Namespace)
	switch standing {
	case billing.Gated:
		return &PaymentRequiredError{Namespace: caller.Namespace, Status: billing.GatedWord(st)}
	case billing.Grace:
		_ = grpc.SetHeader(ctx, metadata.Pairs(PaymentWarningHeader, g.warning(caller.Namespace, st)))
	}
	return nil
}

// warning is the sentence a caller in its grace period is shown.
func (g *PaymentGate) warning(ns string, st *billingv1.NamespaceStatus) string {
	stop := st.GetStatusSince().AsTime().Add(g.Grace()).UTC().Format(time.RFC3339)
	return fmt.Sprintf("The subscription of namespace '%s' is past due: calls stop at %s unless payment resumes; run 'micro billing portal' to update the card.", ns, stop)
}

func isUngated(service string) bool {
	for _, prefix := range ungated {
		if strings.HasPrefix(service, prefix) {
			return true
		}
	}
	return false
}

// GatedAuthorizer applies the payment gate after another Authorizer's
// rules: a call the rules allow is still refused while its namespace must
// pay.
type GatedAuthorizer struct {
	next Authorizer
	gate *PaymentGate
}

var _ Authorizer = (*GatedAuthorizer)(nil)

// GatePayments returns next with the payment gate after it.
func GatePayments(next Authorizer, gate *PaymentGate) *GatedAuthorizer {
	return &GatedAuthorizer{next: next, gate: gate}
}

// Authorize implements Authorizer.
func (a *GatedAuthorizer) Authorize(ctx context.Context, caller identity.Caller, service, method string) error {
	if err := a.next.Authorize(ctx, caller, service, method); err != nil {
		return err
	}
	return a.gate.Check(ctx, caller, service)
}
