package auth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"m3o.dev/services/internal/mail"
)

// mailedCode is what sign-up and password reset keep of the codes they
// mail to one email: when codes were asked for, and the live code. It is
// embedded in their records, whose JSON holds its fields at the top level.
type mailedCode struct {
	// Sends are the times codes were asked for, within the send window.
	Sends []time.Time `json:"sends,omitempty"`
	// CodeHash is the argon2id hash of the live code; empty when none is.
	CodeHash string `json:"code_hash,omitempty"`
	// CodeExpires is when the live code stops working.
	CodeExpires time.Time `json:"code_expires,omitzero"`
	// Tries counts the tries of the live code.
	Tries int `json:"tries,omitempty"`
}

// countSend counts a request for a code at now, refused when cfg's number
// of codes for one email within its window were asked for already.
func (m *mailedCode) countSend(now time.Time, cfg SignupConfig) error {
	m.Sends = slices.DeleteFunc(m.Sends, func(t time.Time) bool { return !now.Before(t.Add(cfg.SendWindow)) })
	if len(m.Sends) >= cfg.SendsPerEmail {
		return fmt.Errorf("at most %d codes go to one email address in %s; try again later: %w",
			cfg.SendsPerEmail, cfg.SendWindow, ErrTooManyRequests)
	}
	m.Sends = append(m.Sends, now)
	return nil
}

// setCode makes hash the live code from now on, with all its tries.
func (m *mailedCode) setCode(hash string, now time.Time, cfg SignupConfig) {
	m.CodeHash, m.CodeExpires, m.Tries = hash, now.Add(cfg.CodeTTL), 0
}

// takeTry counts one try of the live code at now; without a live code, or
// a try left, it is ErrBadCode.
func (m *mailedCode) takeTry(now time.Time, cfg SignupConfig) error {
	if m.CodeHash == "" || !now.Before(m.CodeExpires) || m.Tries >= cfg.MaxCodeTries {
		return ErrBadCode
	}
	m.Tries++
	return nil
}

// admitAddress refuses a request for a code from the client address in ctx
// when it has asked too often, as counted by limiter, and counts it
// otherwise. what names the requests in the refusal.
func (s *Service) admitAddress(ctx context.Context, limiter *failureLimiter, what string) error {
	addr := clientAddress(ctx)
	if !limiter.allowed(addr) {
		return fmt.Errorf("too many %s requests from this address; try again in %s: %w", what, s.cfg.Signup.SendWindow, ErrTooManyRequests)
	}
	limiter.fail(addr)
	return nil
}

// mailTimeout bounds the delivery of one code.
const mailTimeout = time.Minute

// mailInBackground sends msg in the background, so that the caller learns
// nothing from how long sending took. A failure is logged with what and
// attrs, never the message, which holds a code; the person asks again.
func (s *Service) mailInBackground(ctx context.Context, msg mail.Message, what string, attrs ...any) {
	ctx = context.WithoutCancel(ctx)
	s.mailing.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, mailTimeout)
		defer cancel()
		if err := s.mail.Send(ctx, msg); err != nil {
			s.logger.ErrorContext(ctx, "mail a "+what, append(attrs, "error", err)...)
			return
		}
		s.logger.InfoContext(ctx, what+" mailed", attrs...)
	})
}
