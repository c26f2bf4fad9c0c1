package auth

import (
	"context"
	"fmt"

	"m3o.dev/services/internal/mail"
)

// mailInvite mails an invited email how to sign up, in the background,
// where sign-up is on.
func (s *Service) mailInvite(ctx context.Context, inv Invite) {
	if !s.signupOn() {
		return
	}
	s.mailInBackground(ctx, inviteMessage(inv, s.cfg.PublicAddress), "invitation", "invited_by", inv.CreatedBy)
}

// inviteEnv is the name the invitation has the invitee give the platform
// in micro.
const inviteEnv = "m3o"

// inviteMessage is the email that invites inv.Email. It names the
// platform's address when auth knows it, which an env of micro needs.
func inviteMessage(inv Invite, address string) mail.Message {
	steps := fmt.Sprintf("With the platform as your current env in micro, run\n\n    micro signup --email %s\n\n"+
		"Ask %s for the platform's address if you do not have it.\n", inv.Email, inv.CreatedBy)
	if address != "" {
		steps = fmt.Sprintf("Add the platform to micro and sign up:\n\n"+
			"    micro env add %[1]s %[2]s\n    micro env set %[1]s\n    micro signup --email %[3]s\n\n"+
			"Where the platform's certificate comes from its own CA, ask %[4]s for the CA file and give it to "+
			"'micro env add' with --ca-file.\n", inviteEnv, address, inv.Email, inv.CreatedBy)
	}
	return mail.Message{
		To:      inv.Email,
		Subject: "You are invited to M3O",
		Text: fmt.Sprintf("%s, an admin of M3O, invited you to sign up and run your Go services there.\n\n%s\n"+
			"Sign-up mails a one-time code to this address, then starts your developer subscription. "+
			"If you did not expect this invitation, ignore this email: nothing happens without you.\n",
			inv.CreatedBy, steps),
	}
}
