package auth_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/internal/statustest"
)

// TestResetAdmin checks the operator's way back: a disabled or deleted
// admin of micro is enabled, or made again, with a new password that
// logs in, while the old password and tokens are refused.
func TestResetAdmin(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "micro", "ops", "ops-secret-1", "admin")
	ops := login(t, c, "", "ops", "ops-secret-1")
	tests := []struct {
		name  string
		spoil func() error
	}{
		{"disabled", func() error {
			_, err := c.accounts.Disable(ops.ctx, &authv1.DisableRequest{Id: "admin"})
			return err
		}},
		{"deleted", func() error {
			_, err := c.accounts.Delete(ops.ctx, &authv1.DeleteRequest{Id: "admin"})
			return err
		}},
	}
	oldPassword := adminPassword
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.spoil(); err != nil {
				t.Fatalf("%s admin: %v", tt.name, err)
			}
			password, err := auth.ResetAdmin(t.Context(), e.storeClient(t), nil)
			if err != nil || len(password) < 16 {
				t.Fatalf("ResetAdmin() = %q, %v, want a new long password", password, err)
			}
			_, err = c.auth.Token(t.Context(), &authv1.TokenRequest{Id: "admin", Secret: oldPassword})
			statustest.WantCode(t, "Token(old password)", err, codes.Unauthenticated)
			_, err = c.auth.Inspect(ops.ctx, &authv1.InspectRequest{Token: admin.token.GetAccessToken()})
			statustest.WantCode(t, "Inspect(admin's token from before the reset)", err, codes.Unauthenticated)
			admin = login(t, c, "", "admin", password)
			if !slices.Contains(admin.account.GetRoles(), "admin") || admin.account.GetStatus() != authv1.AccountStatus_ACCOUNT_STATUS_ACTIVE {
				t.Errorf("admin after the reset = %v, want an active admin", admin.account)
			}
			oldPassword = password
		})
	}
	// The admin set counts the reset admin: ops may now be disabled.
	admin = login(t, c, "", "admin", oldPassword)
	if _, err := c.accounts.Disable(admin.ctx, &authv1.DisableRequest{Id: "ops"}); err != nil {
		t.Errorf("Disable(ops) after the reset = %v, want the reset admin counted as active", err)
	}
}
