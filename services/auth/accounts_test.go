package auth_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

func TestListPages(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("user-%d@example.com", 4-i)
		create(t, c, admin, "brave-otter", name, "user-secret")
		want = append(want, name)
	}
	create(t, c, admin, "brave-otter-x", "other@example.com", "user-secret")
	slices.Sort(want)

	var got []string
	req := &authv1.ListRequest{Namespace: "brave-otter", PageSize: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("List() kept returning page tokens")
		}
		resp, err := c.accounts.List(admin.ctx, req)
		if err != nil {
			t.Fatalf("List(page %d) = %v", pages, err)
		}
		if len(resp.GetAccounts()) > 2 {
			t.Fatalf("List(page_size 2) returned %d accounts", len(resp.GetAccounts()))
		}
		for _, a := range resp.GetAccounts() {
			got = append(got, a.GetName())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if !slices.Equal(got, want) {
		t.Errorf("List() pages = %v, want %v", got, want)
	}

	// A page token of one namespace does not page through another.
	first, err := c.accounts.List(admin.ctx, &authv1.ListRequest{Namespace: "brave-otter", PageSize: 1})
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	_, err = c.accounts.List(admin.ctx, &authv1.ListRequest{Namespace: "brave-otter-x", PageToken: first.GetNextPageToken()})
	statustest.WantCode(t, "List(another namespace's page token)", err, codes.InvalidArgument)

	// A token crafted to carry a store token the store never issued is the
	// caller's bad input too, never an internal error.
	crafted := base64.RawURLEncoding.EncodeToString([]byte(`{"ns":"brave-otter","st":"not-a-store-token"}`))
	_, err = c.accounts.List(admin.ctx, &authv1.ListRequest{Namespace: "brave-otter", PageToken: crafted})
	statustest.WantCode(t, "List(crafted page token)", err, codes.InvalidArgument)
}

func TestAccountLifecycle(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	ctx := t.Context()
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	acct := create(t, c, owner, "", "ann@example.com", "ann-secret-1", "developer")
	if acct.GetNamespace() != "brave-otter" || acct.GetStatus() != authv1.AccountStatus_ACCOUNT_STATUS_ACTIVE || acct.GetType() != authv1.AccountType_ACCOUNT_TYPE_USER {
		t.Fatalf("Create() = %v, want an active user in the caller's namespace", acct)
	}
	ann := login(t, c, "brave-otter", "ann@example.com", "ann-secret-1")

	// The account changes its own secret with the old one.
	_, err := c.accounts.ChangeSecret(ann.ctx, &authv1.ChangeSecretRequest{Id: acct.GetId(), OldSecret: "wrong-secret", NewSecret: "ann-secret-2"})
	statustest.WantCode(t, "ChangeSecret(wrong old secret)", err, codes.PermissionDenied)
	if _, err := c.accounts.ChangeSecret(ann.ctx, &authv1.ChangeSecretRequest{Id: acct.GetId(), OldSecret: "ann-secret-1", NewSecret: "ann-secret-2"}); err != nil {
		t.Fatalf("ChangeSecret(self) = %v", err)
	}
	_, err = c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: ann.token.GetRefreshToken()})
	statustest.WantCode(t, "Token(refresh token from before ChangeSecret)", err, codes.Unauthenticated)
	_, err = c.auth.Token(ctx, &authv1.TokenRequest{Namespace: "brave-otter", Id: "ann@example.com", Secret: "ann-secret-1"})
	statustest.WantCode(t, "Token(old secret)", err, codes.Unauthenticated)
	ann = login(t, c, "brave-otter", "ann@example.com", "ann-secret-2")

	// An admin of the namespace needs no old secret for another account,
	// but does for its own.
	if _, err := c.accounts.ChangeSecret(owner.ctx, &authv1.ChangeSecretRequest{Id: "ann@example.com", NewSecret: "ann-secret-3"}); err != nil {
		t.Fatalf("ChangeSecret() as admin = %v", err)
	}
	_, err = c.accounts.ChangeSecret(owner.ctx, &authv1.ChangeSecretRequest{Id: "owner", NewSecret: "owner-secret-2"})
	statustest.WantCode(t, "ChangeSecret(own, as admin, without the old secret)", err, codes.PermissionDenied)
	if _, err := c.accounts.ChangeSecret(owner.ctx, &authv1.ChangeSecretRequest{Id: "owner", OldSecret: "owner-secret", NewSecret: "owner-secret-2"}); err != nil {
		t.Fatalf("ChangeSecret(own, as admin, with the old secret) = %v", err)
	}
	owner = login(t, c, "brave-otter", "owner", "owner-secret-2")
	ann = login(t, c, "brave-otter", "ann@example.com", "ann-secret-3")

	if _, err := c.accounts.Disable(owner.ctx, &authv1.DisableRequest{Id: "ann@example.com"}); err != nil {
		t.Fatalf("Disable() = %v", err)
	}
	got, err := c.accounts.Get(owner.ctx, &authv1.GetRequest{Id: acct.GetId()})
	if err != nil || got.GetAccount().GetStatus() != authv1.AccountStatus_ACCOUNT_STATUS_DISABLED {
		t.Errorf("Get(disabled) = %v, %v, want status DISABLED", got, err)
	}
	_, err = c.auth.Token(ctx, &authv1.TokenRequest{Namespace: "brave-otter", Id: "ann@example.com", Secret: "ann-secret-3"})
	statustest.WantCode(t, "Token(disabled account)", err, codes.Unauthenticated)
	_, err = c.auth.Inspect(owner.ctx, &authv1.InspectRequest{Token: ann.token.GetAccessToken()})
	statustest.WantCode(t, "Inspect(disabled account's token)", err, codes.Unauthenticated)

	if _, err := c.accounts.Delete(owner.ctx, &authv1.DeleteRequest{Id: acct.GetId()}); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	_, err = c.accounts.Get(owner.ctx, &authv1.GetRequest{Id: acct.GetId()})
	statustest.WantCode(t, "Get(deleted)", err, codes.NotFound)
	_, err = c.accounts.Delete(owner.ctx, &authv1.DeleteRequest{Id: acct.GetId()})
	statustest.WantCode(t, "Delete(deleted)", err, codes.NotFound)

	// The name is free again, for a new account with a new id.
	again := create(t, c, owner, "", "ann@example.com", "ann-secret-4")
	if again.GetId() == acct.GetId() {
		t.Errorf("Create(reused name) id = %q, want a new id", again.GetId())
	}
	_, err = c.auth.Inspect(owner.ctx, &authv1.InspectRequest{Token: ann.token.GetAccessToken()})
	statustest.WantCode(t, "Inspect(deleted account's token)", err, codes.Unauthenticated)
}

func TestNamespaceCreation(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	rulesOf := func(ns string) []string {
		t.Helper()
		resp, err := c.rules.List(admin.ctx, &authv1.RulesServiceListRequest{Namespace: ns})
		if err != nil {
			t.Fatalf("List(rules of %s) = %v", ns, err)
		}
		var ids []string
		for _, r := range resp.GetRules() {
			if !r.GetBuiltin() {
				ids = append(ids, r.GetId())
			}
		}
		return ids
	}
	if got := rulesOf("micro"); len(got) != 0 {
		t.Errorf("stored rules of micro = %v, want none: only admins and core services act there", got)
	}
	if got := rulesOf("brave-otter"); len(got) != 0 {
		t.Errorf("stored rules of a namespace not yet created = %v, want none", got)
	}
	create(t, c, admin, "brave-otter", "first", "first-secret")
	if got := rulesOf("brave-otter"); !slices.Equal(got, []string{"namespace-accounts"}) {
		t.Errorf("stored rules of a new namespace = %v, want [namespace-accounts]", got)
	}
}

// TestNameMayNotBeAnotherAccountsID checks that an account cannot be named
// after the id of another account of its namespace, which lookups by that
// string would always find first; other namespaces are not concerned.
func TestNameMayNotBeAnotherAccountsID(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	ann := create(t, c, admin, "brave-otter", "ann", "ann-secret-1")
	_, err := c.accounts.Create(admin.ctx, &authv1.CreateRequest{Namespace: "brave-otter", Name: ann.GetId(), Secret: "x-secret-123"})
	statustest.WantCode(t, "Create(named after ann's id)", err, codes.AlreadyExists)
	create(t, c, admin, "calm-lake", ann.GetId(), "x-secret-123")
	got, err := c.accounts.Get(admin.ctx, &authv1.GetRequest{Namespace: "brave-otter", Id: ann.GetId()})
	if err != nil || got.GetAccount().GetName() != "ann" {
		t.Errorf("Get(ann's id) = %v, %v, want ann", got, err)
	}
}
