package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
)

// Password reset, for a person who forgot the password of an account
// named by their email:
//
//  1. SendPasswordReset mails an 8-digit code to the email when it names
//     one active user account (in the namespace given, if any). Its answer
//     is the same, after much the same work, for every email.
//  2. ResetPassword checks the code, sets the new password, revokes the
//     account's refresh tokens and forgets its failed logins, and logs in.
//
// Codes live and are limited as sign-up's are (Config.Signup): the same
// lifetime and tries, and the same sends per email and per client address,
// counted apart from sign-up's. The record of each email is kept in the
// password_resets table, under the email; it names the account its live
// code resets, so that a new code for another namespace replaces it.

// ErrResetOff means the service was started without mail.
var ErrResetOff = errors.New("password reset by email is not enabled on this platform")

// resetRecord is the password reset of one email, kept in the
// password_resets table.
type resetRecord struct {
	mailedCode
	// Namespace and AccountID locate the account the live code resets.
	Namespace string `json:"namespace,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	version   uint64
}

// sendReset mails a reset code to email when it names one active user
// account, and returns when a code sent now expires. Every email costs a
// lookup, the hashing and a write, and counts against the same limits.
func (s *Service) sendReset(ctx context.Context, email, namespace string) (time.Time, error) {
	if err := s.admitReset(ctx); err != nil {
		return time.Time{}, err
	}
	now := s.now()
	target, err := s.resetTarget(ctx, email, namespace)
	if err != nil {
		return time.Time{}, err
	}
	code, hash, err := s.newCode()
	if err != nil {
		return time.Time{}, err
	}
	_, err = s.updateReset(ctx, email, func(rec *resetRecord) error {
		if err := rec.countSend(now, s.cfg.Signup); err != nil {
			return err
		}
		if target.ID != "" {
			rec.setCode(hash, now, s.cfg.Signup)
			rec.Namespace, rec.AccountID = target.Namespace, target.ID
		}
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	if target.ID != "" {
		s.mailResetCode(ctx, email, target, code)
	}
	return now.Add(s.cfg.Signup.CodeTTL), nil
}

// admitReset refuses a send when there is no mail or the client address
// has asked too often, and counts it otherwise.
func (s *Service) admitReset(ctx context.Context) error {
	if s.mail == nil {
		return ErrResetOff
	}
	return s.admitAddress(ctx, s.resetLimiter, "password reset")
}

// resetTarget returns the active user account email names, in namespace
// when one is given, or no account: none, several without a namespace, a
// service account or a disabled one.
func (s *Service) resetTarget(ctx context.Context, email, namespace string) (emailOwner, error) {
	owners, err := s.emailOwners(ctx, email)
	if err != nil {
		return emailOwner{}, err
	}
	candidates := slices.DeleteFunc(owners.Owners, func(o emailOwner) bool { return namespace != "" && o.Namespace != namespace })
	target := emailOwner{Namespace: rules.PlatformNamespace, ID: noAccountID}
	if len(candidates) == 1 {
		target = candidates[0]
	}
	// Without an account a lookup happens all the same, so that the time
	// the answer takes tells little.
	a, err := s.lookupID(ctx, target.Namespace, target.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return emailOwner{}, nil
	case err != nil:
		return emailOwner{}, err
	case a.Disabled || a.Type != TypeUser:
		return emailOwner{}, nil
	}
	return target, nil
}

// noAccountID is an id no account has: ids are 26 base32 characters.
const noAccountID = "no-such-account"

// resetPassword sets secret as the password of the account the live code
// of email's reset is for, and logs it in; a namespace, when given, must
// be that account's. The try is counted before the code is checked, as
// sign-up's are.
func (s *Service) resetPassword(ctx context.Context, email, namespace, code, secret string, ttl time.Duration) (Issued, error) {
	key := email
	rec, err := s.takeResetTry(ctx, key)
	if err != nil {
		return Issued{}, err
	}
	if !s.hasher.verify(rec.CodeHash, code) || namespace != "" && namespace != rec.Namespace {
		return Issued{}, ErrBadCode
	}
	hash, err := s.hasher.hash(secret)
	if err != nil {
		return Issued{}, err
	}
	// The code works once: another reset with it finds it gone.
	if _, err := s.updateReset(ctx, key, func(r *resetRecord) error {
		if r.CodeHash != rec.CodeHash {
			return ErrBadCode
		}
		r.CodeHash, r.Tries = "", 0
		return nil
	}); err != nil {
		return Issued{}, err
	}
	now := s.now()
	a, err := s.modify(ctx, rec.Namespace, rec.AccountID, func(sa *storedAccount) error {
		if sa.Disabled {
			return fmt.Errorf("account %s of namespace %q is disabled; an admin of the namespace enables it: %w", sa.Name, sa.Namespace, ErrPermissionDenied)
		}
		sa.SecretHash, sa.RefreshNotBefore = hash, now
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Issued{}, ErrBadCode
	}
	if err != nil {
		return Issued{}, err
	}
	s.limiter.succeed([]string{limitKey(a.Namespace, a.ID), limitKey(a.Namespace, a.Name)})
	s.logger.InfoContext(ctx, "password reset by mailed code", "account_id", a.ID, "namespace", a.Namespace)
	// The login comes after the revocation it must survive, which refuses
	// logins up to and at its own instant.
	created := now.Add(time.Nanosecond)
	return s.issue(ctx, a, familyRecord{AccountID: a.ID, Namespace: a.Namespace, Created: created, id: rand.Text()}, ttl, created)
}

// takeResetTry counts one try of the live code of the reset of key and
// returns the record. Without a live code, or a try left, the answer is
// ErrBadCode after the same hashing work as a wrong code.
func (s *Service) takeResetTry(ctx context.Context, key string) (resetRecord, error) {
	now := s.now()
	rec, err := s.updateReset(ctx, key, func(rec *resetRecord) error {
		return rec.takeTry(now, s.cfg.Signup)
	})
	if errors.Is(err, ErrBadCode) {
		s.hasher.verify("", "")
	}
	return rec, err
}

// updateReset applies change to the reset record of key, an email, and
// stores it with compare-and-set, retrying when a concurrent update wins.
// Records expire a day after their last change, longer than a code lives
// and the send window counts.
func (s *Service) updateReset(ctx context.Context, key string, change func(*resetRecord) error) (resetRecord, error) {
	var rec resetRecord
	err := storeclient.Update(ctx, func() error {
		rec = resetRecord{}
		v, err := s.kv.GetJSON(ctx, tablePasswordResets, key, &rec)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		rec.version = v
		if err := change(&rec); err != nil {
			return err
		}
		opts := storeclient.At(rec.version, unverifiedTTL)
		if rec.version == 0 {
			opts = storeclient.Create(unverifiedTTL)
		}
		rec.version, err = s.kv.PutJSON(ctx, tablePasswordResets, key, &rec, opts)
		return err
	})
	return rec, err
}
