package runtime

import (
	"context"
	"errors"
	"fmt"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/billing"
)

// Payments says where a namespace stands with billing; *billing.Standings,
// which billing's status watch keeps current, has it.
type Payments interface {
	Standing(ns string) (billing.Standing, *billingv1.NamespaceStatus)
}

// unpaid reports whether namespace ns must pay before its services may
// run, with the sentence that says why.
func (s *Service) unpaid(ns string) (string, bool) {
	if s.opts.Payments == nil {
		return "", false
	}
	standing, st := s.opts.Payments.Standing(ns)
	if standing != billing.Gated {
		return "", false
	}
	return fmt.Sprintf("Stopped until payment resumes: the subscription of namespace '%s' is %s.", ns, billing.GatedWord(st)), true
}

// stopUnpaid stops a service of a namespace that must pay. Its record
// stays, so the reconciliation starts it again once payment resumes.
func (s *Service) stopUnpaid(ctx context.Context, ref Ref) error {
	if _, err := s.backend.Status(ctx, ref); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	s.log.InfoContext(ctx, "stopping a service until payment resumes", "namespace", ref.Namespace, "service", ref.Name)
	return s.backend.Delete(ctx, ref)
}

// Kick asks the reconciliation for a pass now, as when a namespace's
// standing with billing changes; a pass already asked for covers it.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
