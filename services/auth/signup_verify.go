package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"m3o.dev/services/internal/storeclient"
)

// verifyCode checks code against the live code of email's sign-up and
// returns a new sign-up token and its expiry. The try is counted before the
// code is checked, so that guesses made at the same moment cannot add up
// to more than MaxCodeTries.
func (s *Service) verifyCode(ctx context.Context, email, code string) (string, time.Time, error) {
	rec, err := s.takeTry(ctx, email)
	if err != nil {
		return "", time.Time{}, err
	}
	if !s.hasher.verify(rec.CodeHash, code) {
		return "", time.Time{}, ErrBadCode
	}
	if err := s.mayStillSignUp(ctx, rec); err != nil {
		return "", time.Time{}, err
	}
	return s.issueSignupToken(ctx, email, rec.CodeHash)
}

// takeTry counts one try of the live code of email's sign-up and returns
// the record. When there is no live code, or no try left, the answer is
// ErrBadCode after the same hashing work as a wrong code.
func (s *Service) takeTry(ctx context.Context, email string) (signupRecord, error) {
	now := s.now()
	rec, err := s.updateSignup(ctx, email, func(rec *signupRecord) error {
		return rec.takeTry(now, s.cfg.Signup)
	})
	if errors.Is(err, ErrBadCode) {
		s.hasher.verify("", "")
	}
	return rec, err
}

// mayStillSignUp refuses a verified email that was taken off the allowlist
// or got an account since its code was sent. The caller proved it owns the
// email, so saying which is no leak.
func (s *Service) mayStillSignUp(ctx context.Context, rec signupRecord) error {
	invited, err := s.invited(ctx, rec.Email)
	if err != nil {
		return err
	}
	if !invited {
		return fmt.Errorf("%s is no longer invited to sign up: %w", rec.Email, ErrPermissionDenied)
	}
	owners, err := s.emailOwners(ctx, rec.Email)
	if err != nil {
		return err
	}
	if !unclaimed(owners, rec) {
		return fmt.Errorf("there is already an account named %s: log in with it: %w", rec.Email, ErrAlreadyExists)
	}
	return nil
}

// unclaimed reports whether no account has the email of rec, other than
// the one rec's own unfinished sign-up created.
func unclaimed(owners emailRecord, rec signupRecord) bool {
	for _, o := range owners.Owners {
		if o.ID != rec.AccountID || !rec.Completed.IsZero() {
			return false
		}
	}
	return true
}

// issueSignupToken makes a new sign-up token for email the live one,
// using up the code whose hash is codeHash. Any earlier token stops
// working. A sign-up that had completed, whose account has since gone,
// starts over.
func (s *Service) issueSignupToken(ctx context.Context, email, codeHash string) (string, time.Time, error) {
	token, err := newRefreshToken()
	if err != nil {
		return "", time.Time{}, err
	}
	ttl := s.cfg.Signup.TokenTTL
	expires := s.now().Add(ttl)
	ref := signupTokenRef{Email: email}
	if _, err := s.kv.PutJSON(ctx, tableSignupTokens, hashToken(token), ref, storeclient.Create(ttl)); err != nil {
		return "", time.Time{}, err
	}
	_, err = s.updateSignup(ctx, email, func(rec *signupRecord) error {
		if rec.CodeHash != codeHash {
			// Another Verify used the code, or a new code replaced it.
			return ErrBadCode
		}
		if !rec.Completed.IsZero() {
			*rec = signupRecord{Email: rec.Email, ID: rand.Text(), mailedCode: mailedCode{Sends: rec.Sends}, version: rec.version}
		}
		rec.CodeHash, rec.Tries = "", 0
		rec.TokenHash, rec.TokenExpires = hashToken(token), expires
		return nil
	})
	return token, expires, err
}

// signupOf returns the sign-up whose live token is token. A token replaced
// by a newer one, expired, or of a completed sign-up is refused.
func (s *Service) signupOf(ctx context.Context, token string) (signupRecord, error) {
	hash := hashToken(token)
	var ref signupTokenRef
	if _, err := s.kv.GetJSON(ctx, tableSignupTokens, hash, &ref); err != nil {
		if errors.Is(err, ErrNotFound) {
			return signupRecord{}, ErrBadSignupToken
		}
		return signupRecord{}, err
	}
	rec, err := s.loadSignup(ctx, ref.Email)
	switch {
	case err != nil:
		return signupRecord{}, err
	case rec.TokenHash != hash:
		return signupRecord{}, ErrBadSignupToken
	case !rec.Completed.IsZero():
		return signupRecord{}, fmt.Errorf("this sign-up is complete and its token used: log in as %s instead: %w", rec.Email, ErrFailedPrecondition)
	case !s.now().Before(rec.TokenExpires):
		return signupRecord{}, ErrBadSignupToken
	}
	return rec, nil
}
