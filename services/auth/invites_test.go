package auth_test

import (
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

func TestInvites(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")

	for _, email := range []string{"Zoe@Example.com", "ann@example.com"} {
		if _, err := c.invites.Add(admin.ctx, &authv1.InviteServiceAddRequest{Email: email}); err != nil {
			t.Fatalf("Add(%s) = %v", email, err)
		}
	}
	_, err := c.invites.Add(admin.ctx, &authv1.InviteServiceAddRequest{Email: "ZOE@example.com"})
	statustest.WantCode(t, "Add(invited again)", err, codes.AlreadyExists)
	_, err = c.invites.Add(admin.ctx, &authv1.InviteServiceAddRequest{Email: "not an email"})
	statustest.WantCode(t, "Add(not an email)", err, codes.InvalidArgument)
	_, err = c.invites.Add(owner.ctx, &authv1.InviteServiceAddRequest{Email: "mallory@example.com"})
	statustest.WantCode(t, "Add() as a tenant admin", err, codes.PermissionDenied)
	_, err = c.invites.List(owner.ctx, &authv1.InviteServiceListRequest{})
	statustest.WantCode(t, "List() as a tenant admin", err, codes.PermissionDenied)
	_, err = c.invites.Remove(owner.ctx, &authv1.InviteServiceRemoveRequest{Email: "ann@example.com"})
	statustest.WantCode(t, "Remove() as a tenant admin", err, codes.PermissionDenied)

	resp, err := c.invites.List(admin.ctx, &authv1.InviteServiceListRequest{})
	if err != nil || len(resp.GetInvites()) != 2 || resp.GetInvites()[0].GetEmail() != "ann@example.com" ||
		resp.GetInvites()[1].GetEmail() != "zoe@example.com" || resp.GetInvites()[0].GetCreatedBy() != "admin" {
		t.Fatalf("List() = %v, %v, want ann then zoe, lower-cased, created by admin", resp, err)
	}
	if inv := resp.GetInvites()[0]; inv.GetSignedUp() != nil || inv.GetNamespace() != "" {
		t.Errorf("List() gives %v, want no sign-up yet", inv)
	}
	if _, err := c.invites.Remove(admin.ctx, &authv1.InviteServiceRemoveRequest{Email: "ANN@example.com"}); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	_, err = c.invites.Remove(admin.ctx, &authv1.InviteServiceRemoveRequest{Email: "ann@example.com"})
	statustest.WantCode(t, "Remove(removed)", err, codes.NotFound)
}

// TestInviteMailed checks the invitation's email through a real SMTP
// server: with the platform's public address it gives the commands that
// add the platform and sign up, without it it asks the invitee to get the
// address; an email invited twice is mailed once.
func TestInviteMailed(t *testing.T) {
	tests := []struct {
		name, address string
		want          []string
	}{
		{"with the public address", "m3o.example.com:8081", []string{
			"admin, an admin of M3O, invited you",
			"    micro env add m3o m3o.example.com:8081\n    micro env set m3o\n    micro signup --email ann@example.com\n",
			"ask admin for the CA file",
		}},
		{"without", "", []string{
			"    micro signup --email ann@example.com\n",
			"Ask admin for the platform's address",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.PublicAddress = tt.address
			e := newSignupEnv(t, cfg, &faults{})
			e.invite(t, "Ann@Example.com")
			msg := e.waitForMessages(t, "ann@example.com", 1)[0]
			if msg.Header("Subject") != "You are invited to M3O" {
				t.Errorf("the invitation's subject is %q", msg.Header("Subject"))
			}
			for _, w := range tt.want {
				if !strings.Contains(msg.Text(), w) {
					t.Errorf("the invitation reads %q, want it to hold %q", msg.Text(), w)
				}
			}
			_, err := e.c.invites.Add(e.admin.ctx, &authv1.InviteServiceAddRequest{Email: "ann@example.com"})
			statustest.WantCode(t, "Add(invited again)", err, codes.AlreadyExists)
			e.invite(t, "bob@example.com")
			e.waitForMessages(t, "bob@example.com", 1)
			if n := len(e.messagesTo("ann@example.com")); n != 1 {
				t.Errorf("ann@example.com, invited then refused a second invite, got %d messages, want 1", n)
			}
		})
	}
}

// TestPublicAddressChecked refuses a public address that users could not
// reach.
func TestPublicAddressChecked(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8081", "[::]:8081", "m3o.example.com", ":8081"} {
		cfg := testConfig(t)
		cfg.PublicAddress = addr
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "public address") {
			t.Errorf("Validate(public address %q) = %v, want it refused", addr, err)
		}
	}
	cfg := testConfig(t)
	cfg.PublicAddress = "m3o.example.com:8081"
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(public address m3o.example.com:8081) = %v", err)
	}
}

// TestInviteResent mails an invitation again with resend, which also
// invites an email that was not yet, and refuses it for an email that has
// signed up.
func TestInviteResent(t *testing.T) {
	e := newSignupEnv(t, testConfig(t), &faults{})
	invited := regexp.MustCompile(`invited you`)
	resend := func(email string) error {
		_, err := e.c.invites.Add(e.admin.ctx, &authv1.InviteServiceAddRequest{Email: email, Resend: true})
		return err
	}
	e.invite(t, "ann@example.com")
	e.waitForMessages(t, "ann@example.com", 1)
	if err := resend("ANN@example.com"); err != nil {
		t.Fatalf("Add(ann, resend) = %v", err)
	}
	if msgs := e.waitForMessages(t, "ann@example.com", 2); !invited.MatchString(msgs[1].Text()) {
		t.Errorf("the second message to ann reads %q, want the invitation again", msgs[1].Text())
	}
	if err := resend("bob@example.com"); err != nil {
		t.Fatalf("Add(bob, resend), not invited yet = %v", err)
	}
	e.waitForMessages(t, "bob@example.com", 1)

	if _, err := e.complete(e.readyToComplete(t, "cy@example.com")); err != nil {
		t.Fatalf("CompleteSignup(cy) = %v", err)
	}
	before := len(e.messagesTo("cy@example.com"))
	statustest.WantCode(t, "Add(cy, signed up, resend)", resend("cy@example.com"), codes.FailedPrecondition)
	if err := resend("not an email"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Add(not an email, resend) = %v, want InvalidArgument", err)
	}
	if n := len(e.messagesTo("cy@example.com")); n != before {
		t.Errorf("cy@example.com, signed up, got %d messages after a refused resend, want %d", n, before)
	}
	resp, err := e.c.invites.List(e.admin.ctx, &authv1.InviteServiceListRequest{})
	if err != nil || len(resp.GetInvites()) != 3 {
		t.Errorf("List() = %v, %v, want ann, bob and cy, each once", resp, err)
	}
}
