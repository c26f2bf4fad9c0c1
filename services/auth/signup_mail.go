package auth

import (
	"context"
	"fmt"
	"time"

	"m3o.dev/services/internal/mail"
)

// mailCode mails code to the email of rec in the background.
func (s *Service) mailCode(ctx context.Context, rec signupRecord, code string) {
	s.mailInBackground(ctx, codeMessage(rec.Email, code, s.cfg.Signup.CodeTTL), "sign-up code", "signup_id", rec.ID)
}

// codeMessage is the email that carries a sign-up code.
func codeMessage(to, code string, ttl time.Duration) mail.Message {
	return mail.Message{
		To:      to,
		Subject: "Your M3O sign-up code",
		Text: fmt.Sprintf("Your M3O sign-up code is %s\n\n"+
			"It works for %d minutes. Type it where 'micro signup' asks for it, or run\n\n"+
			"    micro signup --email %s --code %s\n\n"+
			"If you did not ask to sign up to M3O, ignore this email: nothing happens without the code.\n",
			code, int(ttl.Minutes()), to, code),
	}
}
