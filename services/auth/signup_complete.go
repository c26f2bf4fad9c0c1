package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"m3o.dev/pkg/rules"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/internal/storeclient"
)

// DeveloperRole is the role, besides admin, of the account sign-up
// creates in its namespace.
const DeveloperRole = "developer"

// maxNameTries bounds the namespace names one sign-up tries before it
// gives up; with a million names, a handful of taken ones is already rare.
const maxNameTries = 20

// errSignupChanged means the sign-up restarted while a step ran; the step
// is not applied to the new one.
var errSignupChanged = fmt.Errorf("the sign-up restarted meanwhile; use the newest sign-up token: %w", ErrFailedPrecondition)

// completeSignup finishes the sign-up of token: it reserves a namespace
// name, subscribes that namespace through billing, creates the account
// with secret, installs the namespace's default rule, and logs the account
// in. Each step records what it did in the sign-up's record, or in a store
// record it can find again, and does nothing a second time, so a retry
// after a failure between any two finishes with one subscription, one
// namespace and one account.
//
// The namespace gets no runtime quota from here: the runtime applies its
// default quota to every namespace that has none of its own.
func (s *Service) completeSignup(ctx context.Context, token, secret string) (Issued, error) {
	rec, err := s.signupOf(ctx, token)
	if err != nil {
		return Issued{}, err
	}
	if err := s.requirePayment(ctx, rec); err != nil {
		return Issued{}, err
	}
	steps := []func() error{
		func() error { return s.reserveNamespace(ctx, &rec) },
		func() error { return s.subscribe(ctx, &rec) },
		func() error { return s.createSignupAccount(ctx, rec, secret) },
		func() error { return s.createNamespace(ctx, rec.Namespace, signupBy(rec), true) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return Issued{}, err
		}
	}
	return s.finishSignup(ctx, rec)
}

// signupBy is who a sign-up's namespace is created by, in its record.
func signupBy(rec signupRecord) string { return "signup " + rec.ID }

// reserveNamespace gives the sign-up a namespace name of its own: the one
// it chose before, or a new one. A name is reserved by creating its
// namespace record, which names the sign-up as its creator; a name some
// other namespace has is passed over.
func (s *Service) reserveNamespace(ctx context.Context, rec *signupRecord) error {
	if rec.Namespace == "" {
		if err := s.chooseName(ctx, rec); err != nil {
			return err
		}
	}
	for range maxNameTries {
		ok, err := s.claimNamespace(ctx, rec.Namespace, signupBy(*rec))
		if err != nil || ok {
			return err
		}
		if rec.Subscribed {
			return fmt.Errorf("namespace %q of sign-up %s belongs to someone else", rec.Namespace, rec.ID)
		}
		if err := s.chooseName(ctx, rec); err != nil {
			return err
		}
	}
	return fmt.Errorf("no free namespace name after %d tries", maxNameTries)
}

// chooseName records a new namespace name for the sign-up, and the id its
// account will have, replacing the name rec holds; when another try of the
// same sign-up replaced it first, rec takes that one instead.
func (s *Service) chooseName(ctx context.Context, rec *signupRecord) error {
	name, err := newNamespaceName()
	if err != nil {
		return err
	}
	updated, err := s.updateSignup(ctx, rec.Email, func(r *signupRecord) error {
		switch {
		case r.ID != rec.ID || !r.Completed.IsZero():
			return errSignupChanged
		case r.Namespace == rec.Namespace && !r.Subscribed:
			r.Namespace = name
		}
		if r.AccountID == "" {
			r.AccountID = newID()
		}
		return nil
	})
	if err == nil {
		*rec = updated
	}
	return err
}

// claimNamespace creates the record of namespace for by, and reports
// whether namespace is by's: created now, or by an earlier try.
func (s *Service) claimNamespace(ctx context.Context, namespace, by string) (bool, error) {
	if namespace == rules.PlatformNamespace {
		return false, nil
	}
	rec := namespaceRecord{Created: s.now().UTC(), CreatedBy: by}
	_, err := s.kv.PutJSON(ctx, tableNamespaces, namespace, rec, storeclient.Create(0))
	if !errors.Is(err, ErrAlreadyExists) {
		return err == nil, err
	}
	var cur namespaceRecord
	if _, err := s.kv.GetJSON(ctx, tableNamespaces, namespace, &cur); err != nil {
		return false, err
	}
	return cur.CreatedBy == by, nil
}

// subscribe has billing subscribe the sign-up's namespace with the card of
// its payment session. Billing's idempotency key derives from the
// sign-up's id, so a retry gets the same subscription back.
func (s *Service) subscribe(ctx context.Context, rec *signupRecord) error {
	if rec.Subscribed {
		return nil
	}
	if rec.PaymentSession == "" {
		return fmt.Errorf("no payment has started: call StartPayment for the subscribe page first: %w", ErrFailedPrecondition)
	}
	_, err := s.billing.CreateSubscription(ctx, &billingv1.CreateSubscriptionRequest{
		Namespace: rec.Namespace, Account: rec.AccountID, Email: rec.Email,
		PaymentSessionId: rec.PaymentSession, IdempotencyKey: rec.subscriptionKey(),
	})
	if err != nil {
		return billingError("subscribe namespace "+rec.Namespace, err)
	}
	updated, err := s.updateSignup(ctx, rec.Email, func(r *signupRecord) error {
		if r.ID != rec.ID {
			return errSignupChanged
		}
		r.Subscribed = true
		return nil
	})
	if err != nil {
		return err
	}
	*rec = updated
	s.logger.InfoContext(ctx, "sign-up subscribed", "signup_id", rec.ID, "namespace", rec.Namespace)
	return nil
}

// createSignupAccount creates the sign-up's account, named by its email,
// admin and developer of its namespace, with the id the sign-up chose. The
// email becomes the account's alone first, so that logging in by it needs
// no namespace. An account an earlier try created is finished instead,
// with this try's secret.
func (s *Service) createSignupAccount(ctx context.Context, rec signupRecord, secret string) error {
	a, err := s.newAccount(rec.Namespace, AccountSpec{
		Name: rec.Email, Secret: secret, Type: TypeUser, Roles: []string{rules.AdminRole, DeveloperRole},
	})
	if err != nil {
		return err
	}
	a.ID = rec.AccountID
	if err := s.indexEmail(ctx, a.Account, true); err != nil {
		return err
	}
	err = s.insert(ctx, a)
	if errors.Is(err, ErrAlreadyExists) {
		return s.adoptAccount(ctx, a)
	}
	if err == nil {
		s.logger.InfoContext(ctx, "account created", "account_id", a.ID, "namespace", a.Namespace, "by", signupBy(rec))
	}
	return err
}

// adoptAccount finishes the account a that an earlier try of its sign-up
// created: its id index entry, and the secret of this try.
func (s *Service) adoptAccount(ctx context.Context, a storedAccount) error {
	cur, err := s.lookupName(ctx, a.Namespace, a.Name)
	if err != nil {
		return err
	}
	if cur.ID != a.ID {
		return fmt.Errorf("namespace %q already has an account %q: %w", a.Namespace, a.Name, ErrAlreadyExists)
	}
	ref := accountRef{Namespace: a.Namespace, Name: a.Name}
	if _, err := s.kv.PutJSON(ctx, tableAccountIDs, a.ID, ref, storeclient.Create(0)); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return err
	}
	_, err = s.modify(ctx, a.Namespace, a.Name, func(sa *storedAccount) error {
		sa.SecretHash = a.SecretHash
		return nil
	})
	return err
}

// finishSignup logs the sign-up's account in and marks the sign-up
// complete, which retires its token.
func (s *Service) finishSignup(ctx context.Context, rec signupRecord) (Issued, error) {
	a, err := s.lookupID(ctx, rec.Namespace, rec.AccountID)
	if err != nil {
		return Issued{}, err
	}
	now := s.now()
	issued, err := s.issue(ctx, a, familyRecord{AccountID: a.ID, Namespace: a.Namespace, Created: now, id: rand.Text()}, s.cfg.AccessTTL, now)
	if err != nil {
		return Issued{}, err
	}
	_, err = s.updateSignup(ctx, rec.Email, func(r *signupRecord) error {
		if r.ID != rec.ID {
			return errSignupChanged
		}
		r.Completed = now.UTC()
		return nil
	})
	if err != nil {
		return Issued{}, err
	}
	s.logger.InfoContext(ctx, "sign-up completed", "signup_id", rec.ID, "namespace", rec.Namespace, "account_id", a.ID)
	return issued, nil
}
