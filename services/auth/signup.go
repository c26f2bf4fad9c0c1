package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"google.golang.org/grpc"

	billingv1 "m3o.dev/proto/m3o/billing/v1"
	"m3o.dev/services/internal/storeclient"
)

// Sign-up, from the first code to a namespace of one's own:
//
//  1. SendVerificationEmail mails an 8-digit code to an invited email that
//     has no account yet. Its answer is the same, after the same work, for
//     every email: only the mailbox's owner learns whether a code came.
//  2. Verify trades the code for a sign-up token.
//  3. StartPayment opens billing's payment session and returns its
//     subscribe page; PaymentStatus says when the page has taken a card.
//  4. CompleteSignup reserves a namespace name, subscribes it through
//     billing, creates the account and the namespace's default rule, and
//     issues tokens.
//
// Everything a sign-up has done is kept in one record of the signups
// table, under the email: the code's hash, the token's hash, the payment
// session, the namespace name, the account id, whether billing subscribed.
// Each step records what it did before the next starts, and billing's
// keys derive from the record's id, so a CompleteSignup retried after a
// failure anywhere finishes the job with one subscription, one namespace
// and one account. A new code and token resume a sign-up whose token was
// lost: the record, and so its namespace and subscription, stay the same.

// Billing is the part of the billing service's client that sign-up calls,
// as micro/auth; billingv1.BillingServiceClient has it.
type Billing interface {
	StartCheckout(ctx context.Context, in *billingv1.StartCheckoutRequest, opts ...grpc.CallOption) (*billingv1.StartCheckoutResponse, error)
	GetCheckout(ctx context.Context, in *billingv1.GetCheckoutRequest, opts ...grpc.CallOption) (*billingv1.GetCheckoutResponse, error)
	CreateSubscription(ctx context.Context, in *billingv1.CreateSubscriptionRequest, opts ...grpc.CallOption) (*billingv1.CreateSubscriptionResponse, error)
}

// Errors of sign-up; toStatus maps each to one gRPC code.
var (
	// ErrBadCode means the code is wrong, expired, used up or was never
	// sent. It never says which.
	ErrBadCode = errors.New("the code is wrong or has expired; after a few wrong tries a code stops working, so ask for a new one")
	// ErrBadSignupToken means the sign-up token is unknown, expired or
	// replaced by a newer one.
	ErrBadSignupToken = errors.New("the sign-up token is invalid or has expired; verify your email again for a new one")
	// ErrTooManyRequests means a sign-up limit was reached: codes for one
	// email, or requests from one client address.
	ErrTooManyRequests = errors.New("too many requests")
	// ErrSignupOff means the service was started without mail or billing.
	ErrSignupOff = errors.New("sign-up is not enabled on this platform")
)

// codeDigits is how many digits a code has.
const codeDigits = 8

// unverifiedTTL is how long the record of an email that never verified is
// kept: longer than a code lives and than the send window counts.
const unverifiedTTL = 24 * time.Hour

// signupRecord is one email's sign-up, kept in the signups table under the
// lower-cased email.
type signupRecord struct {
	// Email is the lower-cased address.
	Email string `json:"email"`
	// ID names the sign-up: billing's idempotency keys derive from it.
	ID string `json:"id"`
	mailedCode
	// TokenHash is the SHA-256 of the live sign-up token.
	TokenHash string `json:"token_hash,omitempty"`
	// TokenExpires is when the live sign-up token stops working.
	TokenExpires time.Time `json:"token_expires,omitzero"`
	// PaymentSession is billing's payment session, and SubscribeURL its
	// page.
	PaymentSession string `json:"payment_session,omitempty"`
	SubscribeURL   string `json:"subscribe_url,omitempty"`
	// Namespace is the name chosen for the namespace, and AccountID the
	// id chosen for the account, before either exists.
	Namespace string `json:"namespace,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	// Subscribed is set once billing has subscribed the namespace.
	Subscribed bool `json:"subscribed,omitempty"`
	// Completed is when the sign-up completed; its token then stops
	// working.
	Completed time.Time `json:"completed,omitzero"`
	version   uint64
}

// verified reports whether the record's email was ever verified, after
// which the record is kept for good.
func (r signupRecord) verified() bool { return r.TokenHash != "" }

// checkoutKey is the idempotency key of the sign-up's payment session.
func (r signupRecord) checkoutKey() string { return "signup-checkout-" + r.ID }

// subscriptionKey is the idempotency key of the sign-up's subscription.
func (r signupRecord) subscriptionKey() string { return "signup-subscription-" + r.ID }

// signupTokenRef is the entry of the signup_tokens table: the email whose
// sign-up a token hash belongs to.
type signupTokenRef struct {
	Email string `json:"email"`
}

// loadSignup reads the sign-up of email; a missing one is a fresh record.
func (s *Service) loadSignup(ctx context.Context, email string) (signupRecord, error) {
	var rec signupRecord
	v, err := s.kv.GetJSON(ctx, tableSignups, email, &rec)
	switch {
	case errors.Is(err, ErrNotFound):
		return signupRecord{Email: email}, nil
	case err != nil:
		return signupRecord{}, err
	}
	rec.version = v
	return rec, nil
}

// storeSignup writes rec with compare-and-set against the version it was
// read at. A record never verified expires; a verified one holds a
// sign-up's progress and is kept.
func (s *Service) storeSignup(ctx context.Context, rec *signupRecord) error {
	ttl := time.Duration(0)
	if !rec.verified() {
		ttl = unverifiedTTL
	}
	opts := storeclient.At(rec.version, ttl)
	if rec.version == 0 {
		opts = storeclient.Create(ttl)
	}
	v, err := s.kv.PutJSON(ctx, tableSignups, rec.Email, rec, opts)
	if err != nil {
		return err
	}
	rec.version = v
	return nil
}

// updateSignup applies change to the sign-up of email and stores it,
// retrying when a concurrent update wins.
func (s *Service) updateSignup(ctx context.Context, email string, change func(*signupRecord) error) (signupRecord, error) {
	var rec signupRecord
	err := storeclient.Update(ctx, func() error {
		var err error
		if rec, err = s.loadSignup(ctx, email); err != nil {
			return err
		}
		if err := change(&rec); err != nil {
			return err
		}
		return s.storeSignup(ctx, &rec)
	})
	return rec, err
}

// sendCode mails a new code to email when it is invited and has no
// account, and returns when a code sent now expires. Every email costs the
// same reads, the same hashing and the same write, and counts against the
// same limits, so that neither the answer nor its timing tells who is
// invited or has an account; the mail itself goes out in the background.
func (s *Service) sendCode(ctx context.Context, email string) (time.Time, error) {
	if err := s.admitSend(ctx); err != nil {
		return time.Time{}, err
	}
	now := s.now()
	eligible, err := s.mayReceiveCode(ctx, email)
	if err != nil {
		return time.Time{}, err
	}
	code, hash, err := s.newCode()
	if err != nil {
		return time.Time{}, err
	}
	rec, err := s.updateSignup(ctx, email, func(rec *signupRecord) error {
		return s.recordSend(rec, now, eligible, hash)
	})
	if err != nil {
		return time.Time{}, err
	}
	if eligible {
		s.mailCode(ctx, rec, code)
	}
	return now.Add(s.cfg.Signup.CodeTTL), nil
}

// signupOn reports whether sign-up works here: it needs mail for its
// codes and billing for the subscription.
func (s *Service) signupOn() bool { return s.mail != nil && s.billing != nil }

// admitSend refuses a send when sign-up is off or the client address has
// asked too often, and counts it otherwise.
func (s *Service) admitSend(ctx context.Context) error {
	if !s.signupOn() {
		return ErrSignupOff
	}
	return s.admitAddress(ctx, s.sendLimiter, "sign-up")
}

// mayReceiveCode reports whether email is invited and has no account but
// the one its own unfinished sign-up may have created, which a new code
// lets it finish.
func (s *Service) mayReceiveCode(ctx context.Context, email string) (bool, error) {
	invited, err := s.invited(ctx, email)
	if err != nil {
		return false, err
	}
	owners, err := s.emailOwners(ctx, email)
	if err != nil {
		return false, err
	}
	rec, err := s.loadSignup(ctx, email)
	if err != nil {
		return false, err
	}
	return invited && unclaimed(owners, rec), nil
}

// invited reports whether email is on the allowlist.
func (s *Service) invited(ctx context.Context, email string) (bool, error) {
	var inv Invite
	_, err := s.kv.GetJSON(ctx, tableInvites, email, &inv)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, err
}

// recordSend counts a send of rec's email at now, refused past the limit,
// and makes hash the live code when the email is eligible.
func (s *Service) recordSend(rec *signupRecord, now time.Time, eligible bool, hash string) error {
	if err := rec.countSend(now, s.cfg.Signup); err != nil {
		return err
	}
	if rec.ID == "" {
		rec.ID = rand.Text()
	}
	if eligible {
		rec.setCode(hash, now, s.cfg.Signup)
	}
	return nil
}

// newCode returns a random code of codeDigits digits and its hash.
func (s *Service) newCode() (code, hash string, err error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", "", fmt.Errorf("sign-up code: %w", err)
	}
	code = fmt.Sprintf("%0*d", codeDigits, n.Int64())
	hash, err = s.hasher.hash(code)
	return code, hash, err
}

// validCode reports whether code has the shape of a code, so that a typo
// costs no try.
func validCode(code string) bool {
	return len(code) == codeDigits && strings.Trim(code, "0123456789") == ""
}
