package billing

import (
	"time"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// Standing is what a namespace may do, given its billing status.
type Standing int

// The standings, from good to gated.
const (
	// Good namespaces use the platform: not billed, paid up, or canceled
	// but still in the paid period.
	Good Standing = iota
	// Grace namespaces are past due within the grace period: they work,
	// and their callers are warned.
	Grace
	// Gated namespaces must pay: every call but auth, sign-up and billing
	// is refused, and their services are stopped.
	Gated
)

// String implements fmt.Stringer.
func (s Standing) String() string {
	switch s {
	case Good:
		return "good"
	case Grace:
		return "grace"
	default:
		return "gated"
	}
}

// DefaultGrace is how long a past-due namespace keeps working.
const DefaultGrace = 72 * time.Hour

// StandingOf decides a namespace's standing at now from its status, nil
// for a namespace that is not billed. A past-due namespace works for grace
// from the time it fell due; a canceled one until the end of its paid
// period; an incomplete one not at all. A status this release does not know
// counts as good: gating is only ever decided on what is understood.
func StandingOf(st *billingv1.NamespaceStatus, now time.Time, grace time.Duration) Standing {
	if st == nil {
		return Good
	}
	periodOver := st.GetCurrentPeriodEnd() != nil && !now.Before(st.GetCurrentPeriodEnd().AsTime())
	switch st.GetStatus() {
	case billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_ACTIVE:
		if st.GetCancelAtPeriodEnd() && periodOver {
			return Gated
		}
	case billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_PAST_DUE:
		if now.Before(st.GetStatusSince().AsTime().Add(grace)) {
			return Grace
		}
		return Gated
	case billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED:
		if periodOver || st.GetCurrentPeriodEnd() == nil {
			return Gated
		}
	case billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_INCOMPLETE:
		return Gated
	}
	return Good
}

// GatedWord says what the subscription of a gated namespace is: one set to
// end whose paid period is over has ended, "canceled", even while its
// status still says active, until the provider's last event arrives.
func GatedWord(st *billingv1.NamespaceStatus) string {
	if st.GetCancelAtPeriodEnd() {
		return StatusWord(billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED)
	}
	return StatusWord(st.GetStatus())
}

// StatusWord is a status as people read it: "active", "past_due",
// "canceled" or "incomplete".
func StatusWord(st billingv1.SubscriptionStatus) string {
	if s, ok := statusFromProto(st); ok {
		return string(s)
	}
	return "unknown"
}
