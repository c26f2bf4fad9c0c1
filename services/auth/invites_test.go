package auth_test

import (
	"testing"

	"google.golang.org/grpc/codes"

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
