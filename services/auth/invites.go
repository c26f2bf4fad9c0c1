package auth

import (
	"context"
	"errors"
	"fmt"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
)

// addInvite puts an email on the sign-up allowlist and mails it how to
// sign up; admins of micro only. With resend, an email already invited is
// mailed again.
func (s *Service) addInvite(ctx context.Context, p principal, email string, resend bool) (Invite, error) {
	if !p.platformAdmin() {
		return Invite{}, p.deny("manage invites: only admins of %q do", rules.PlatformNamespace)
	}
	by := p.Subject
	if a, err := s.lookupID(ctx, p.Namespace, p.Subject); err == nil {
		by = a.Name
	}
	inv := Invite{Email: email, Created: s.now().UTC(), CreatedBy: by}
	if _, err := s.kv.PutJSON(ctx, tableInvites, email, inv, storeclient.Create(0)); err != nil {
		switch {
		case errors.Is(err, ErrAlreadyExists) && resend:
			return s.resendInvite(ctx, p, email)
		case errors.Is(err, ErrAlreadyExists):
			return Invite{}, fmt.Errorf("%q is already invited: %w", email, ErrAlreadyExists)
		}
		return Invite{}, err
	}
	s.logger.InfoContext(ctx, "invite added", "by", p.String())
	s.mailInvite(ctx, inv)
	return inv, nil
}

// resendInvite mails an invited email the invitation again, unless it
// has signed up.
func (s *Service) resendInvite(ctx context.Context, p principal, email string) (Invite, error) {
	var inv Invite
	if _, err := s.kv.GetJSON(ctx, tableInvites, email, &inv); err != nil {
		return Invite{}, notFound(err, "%q is not invited", email)
	}
	rec, err := s.loadSignup(ctx, email)
	if err != nil {
		return Invite{}, err
	}
	if !rec.Completed.IsZero() {
		return Invite{}, fmt.Errorf("%q signed up to namespace %q already, and has no use for an invitation: %w", email, rec.Namespace, ErrFailedPrecondition)
	}
	s.logger.InfoContext(ctx, "invite resent", "by", p.String())
	s.mailInvite(ctx, inv)
	return inv, nil
}

// removeInvite takes an email off the allowlist; admins of micro only.
func (s *Service) removeInvite(ctx context.Context, p principal, email string) error {
	if !p.platformAdmin() {
		return p.deny("manage invites: only admins of %q do", rules.PlatformNamespace)
	}
	if err := s.kv.Delete(ctx, tableInvites, email, nil); err != nil {
		return notFound(err, "%q is not invited", email)
	}
	return nil
}

// listInvites returns the allowlist by email, each with its completed
// sign-up, if any; admins of micro only.
func (s *Service) listInvites(ctx context.Context, p principal) ([]Invite, error) {
	if !p.platformAdmin() {
		return nil, p.deny("manage invites: only admins of %q do", rules.PlatformNamespace)
	}
	recs, err := s.kv.ScanAll(ctx, tableInvites, "")
	if err != nil {
		return nil, err
	}
	out := make([]Invite, 0, len(recs))
	for _, r := range recs {
		var inv Invite
		if err := storeclient.DecodeJSON(r.Value, &inv); err != nil {
			return nil, err
		}
		rec, err := s.loadSignup(ctx, inv.Email)
		if err != nil {
			return nil, err
		}
		if !rec.Completed.IsZero() {
			inv.SignedUp, inv.Namespace = rec.Completed, rec.Namespace
		}
		out = append(out, inv)
	}
	return out, nil
}
