package auth

import (
	"context"
	"fmt"
	"time"

	"m3o.dev/services/internal/mail"
)

// mailResetCode mails a password reset code for account to to in the
// background.
func (s *Service) mailResetCode(ctx context.Context, to string, account emailOwner, code string) {
	s.mailInBackground(ctx, resetMessage(to, account.Namespace, code, s.cfg.Signup.CodeTTL), "password reset code", "account_id", account.ID)
}

// resetMessage is the email that carries a password reset code.
func resetMessage(to, namespace, code string, ttl time.Duration) mail.Message {
	return mail.Message{
		To:      to,
		Subject: "Your M3O password reset code",
		Text: fmt.Sprintf("Your M3O password reset code is %s\n\n"+
			"It resets the password of %s in namespace '%s' and works for %d minutes. "+
			"Type it where 'micro login --forgot-password' asks for it, or run\n\n"+
			"    micro login --forgot-password --username %s --code %s\n\n"+
			"If you did not ask to reset your password, ignore this email: your password stays as it is.\n",
			code, to, namespace, int(ttl.Minutes()), to, code),
	}
}
