package auth_test

import (
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/statustest"
)

// canLogIn reports whether the account name of micro may log in with secret,
// which only an active account may; a right secret is never counted as a
// failed login.
func canLogIn(t *testing.T, c clients, name, secret string) bool {
	t.Helper()
	_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: "micro", Id: name, Secret: secret})
	return err == nil
}

// TestLastAdminStays checks that the last active admin of micro can be
// neither disabled nor deleted, not even by itself nor by the runtime,
// which manages only tenants' service accounts, and that Enable brings a
// disabled admin back.
func TestLastAdminStays(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	runtime := e.dial(t, "micro", "runtime")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "micro", "ops", "ops-secret-1", "admin")
	ops := login(t, c, "", "ops", "ops-secret-1")
	if _, err := c.accounts.Disable(ops.ctx, &authv1.DisableRequest{Id: "admin"}); err != nil {
		t.Fatalf("Disable(admin) by ops = %v, want ops left as the active admin", err)
	}

	for _, tt := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"disable itself", func() error {
			_, err := c.accounts.Disable(ops.ctx, &authv1.DisableRequest{Id: "ops"})
			return err
		}, codes.FailedPrecondition},
		{"delete itself", func() error {
			_, err := c.accounts.Delete(ops.ctx, &authv1.DeleteRequest{Id: "ops"})
			return err
		}, codes.FailedPrecondition},
		{"runtime disables", func() error {
			_, err := runtime.accounts.Disable(t.Context(), &authv1.DisableRequest{Namespace: "micro", Id: "ops"})
			return err
		}, codes.PermissionDenied},
		{"runtime deletes", func() error {
			_, err := runtime.accounts.Delete(t.Context(), &authv1.DeleteRequest{Namespace: "micro", Id: "ops"})
			return err
		}, codes.PermissionDenied},
	} {
		statustest.WantCode(t, tt.name+"(last admin)", tt.call(), tt.want)
	}
	if !canLogIn(t, c, "ops", "ops-secret-1") {
		t.Fatalf("ops after the refusals is not active")
	}

	resp, err := c.accounts.Enable(ops.ctx, &authv1.EnableRequest{Id: "admin"})
	if err != nil || resp.GetAccount().GetStatus() != authv1.AccountStatus_ACCOUNT_STATUS_ACTIVE {
		t.Fatalf("Enable(admin) = %v, %v, want the account active", resp, err)
	}
	_, err = c.auth.Inspect(ops.ctx, &authv1.InspectRequest{Token: admin.token.GetAccessToken()})
	statustest.WantCode(t, "Inspect(token from before the disable)", err, codes.Unauthenticated)
	admin = login(t, c, "", "admin", adminPassword)
	// With two admins again, either may go.
	if _, err := c.accounts.Delete(admin.ctx, &authv1.DeleteRequest{Id: "ops"}); err != nil {
		t.Errorf("Delete(ops) with admin active = %v", err)
	}
}

// TestEnablePermissions checks who may enable an account: admins of its
// namespace and of micro, nobody else.
func TestEnablePermissions(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	create(t, c, admin, "brave-otter", "dev", "dev-secret-1", "developer")
	create(t, c, admin, "brave-otter", "ann", "ann-secret-1")
	create(t, c, admin, "calm-lake", "boss", "boss-secret", "admin")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	dev := login(t, c, "brave-otter", "dev", "dev-secret-1")
	boss := login(t, c, "calm-lake", "boss", "boss-secret")
	runtime := e.dial(t, "micro", "runtime")
	disable := func() {
		t.Helper()
		if _, err := c.accounts.Disable(admin.ctx, &authv1.DisableRequest{Namespace: "brave-otter", Id: "ann"}); err != nil {
			t.Fatalf("Disable(ann) = %v", err)
		}
	}
	tests := []struct {
		name   string
		enable func() error
		want   codes.Code
	}{
		{"developer of the namespace", func() error {
			_, err := c.accounts.Enable(dev.ctx, &authv1.EnableRequest{Id: "ann"})
			return err
		}, codes.PermissionDenied},
		{"admin of another namespace", func() error {
			_, err := c.accounts.Enable(boss.ctx, &authv1.EnableRequest{Namespace: "brave-otter", Id: "ann"})
			return err
		}, codes.PermissionDenied},
		{"runtime", func() error {
			_, err := runtime.accounts.Enable(t.Context(), &authv1.EnableRequest{Namespace: "brave-otter", Id: "ann"})
			return err
		}, codes.PermissionDenied},
		{"unknown account", func() error {
			_, err := c.accounts.Enable(owner.ctx, &authv1.EnableRequest{Id: "nobody"})
			return err
		}, codes.NotFound},
		{"admin of the namespace", func() error {
			_, err := c.accounts.Enable(owner.ctx, &authv1.EnableRequest{Id: "ann"})
			return err
		}, codes.OK},
		{"admin of micro", func() error {
			_, err := c.accounts.Enable(admin.ctx, &authv1.EnableRequest{Namespace: "brave-otter", Id: "ann"})
			return err
		}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disable()
			statustest.WantCode(t, "Enable() as "+tt.name, tt.enable(), tt.want)
			_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: "brave-otter", Id: "ann", Secret: "ann-secret-1"})
			if (err == nil) != (tt.want == codes.OK) {
				t.Errorf("Token(ann) after Enable() as %s = %v", tt.name, err)
			}
		})
	}
}

// TestAdminsDisablingEachOther has two admins of micro disable each other
// at the same moment, many times over: one of them always stays.
func TestAdminsDisablingEachOther(t *testing.T) {
	cfg := testConfig(t)
	// Each round's check of the loser is a refused login from this test's
	// one address.
	cfg.MaxAddressFailures = 1000
	e := newEnv(t, cfg)
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	secrets := map[string]string{"x": "x-secret-12", "y": "y-secret-12"}
	for name, secret := range secrets {
		create(t, c, admin, "micro", name, secret, "admin")
	}
	x := login(t, c, "", "x", secrets["x"])
	if _, err := c.accounts.Disable(x.ctx, &authv1.DisableRequest{Id: "admin"}); err != nil {
		t.Fatalf("Disable(admin) = %v", err)
	}
	users := map[string]user{"x": x, "y": login(t, c, "", "y", secrets["y"])}
	for round := range 30 {
		errs := map[string]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, other := range map[string]string{"x": "y", "y": "x"} {
			wg.Go(func() {
				_, err := c.accounts.Disable(users[name].ctx, &authv1.DisableRequest{Id: other})
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			})
		}
		wg.Wait()
		var active []string
		for _, name := range []string{"x", "y"} {
			if canLogIn(t, c, name, secrets[name]) {
				active = append(active, name)
			}
		}
		if len(active) != 1 {
			t.Fatalf("round %d: x disabling y = %v, y disabling x = %v; active admins %v, want exactly one", round, errs["x"], errs["y"], active)
		}
		winner, loser := active[0], map[string]string{"x": "y", "y": "x"}[active[0]]
		if errs[winner] != nil {
			t.Fatalf("round %d: %s stayed but its disable failed: %v", round, winner, errs[winner])
		}
		if code := status.Code(errs[loser]); code != codes.FailedPrecondition && code != codes.Unauthenticated {
			t.Fatalf("round %d: %s's disable = %v, want FailedPrecondition or, revoked first, Unauthenticated", round, loser, errs[loser])
		}
		if _, err := c.accounts.Enable(users[winner].ctx, &authv1.EnableRequest{Id: loser}); err != nil {
			t.Fatalf("round %d: Enable(%s) = %v", round, loser, err)
		}
		users[loser] = login(t, c, "", loser, secrets[loser])
	}
}
