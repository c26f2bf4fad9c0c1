package auth_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// TestRefusalsReadAsSentences checks the messages of refusals: each says
// plainly who may not do what, and none repeats what its code says.
func TestRefusalsReadAsSentences(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	runtime := e.dial(t, "micro", "runtime")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "owner", "owner-secret", "admin")
	devAcct := create(t, c, admin, "brave-otter", "dev", "dev-secret-1", "developer")
	owner := login(t, c, "brave-otter", "owner", "owner-secret")
	dev := login(t, c, "brave-otter", "dev", "dev-secret-1")
	tests := []struct {
		name string
		call func(ctx context.Context) error
		code codes.Code
		want string
	}{
		{"disable itself", func(context.Context) error {
			_, err := c.accounts.Disable(owner.ctx, &authv1.DisableRequest{Id: "owner"})
			return err
		}, codes.FailedPrecondition, "an account may not disable itself"},
		{"delete itself", func(context.Context) error {
			_, err := c.accounts.Delete(owner.ctx, &authv1.DeleteRequest{Id: "owner"})
			return err
		}, codes.FailedPrecondition, "an account may not delete itself"},
		{"developer creates an account", func(context.Context) error {
			_, err := c.accounts.Create(dev.ctx, &authv1.CreateRequest{Name: "x", Secret: "x-secret-123"})
			return err
		}, codes.PermissionDenied, `account ` + devAcct.GetId() + ` of namespace "brave-otter" may not create this account in namespace "brave-otter"`},
		{"runtime creates a namespace", func(ctx context.Context) error {
			_, err := runtime.accounts.Create(ctx, &authv1.CreateRequest{Namespace: "new-space", Name: "x", Secret: "x-secret-123"})
			return err
		}, codes.PermissionDenied, `service micro/runtime may not create this account in namespace "new-space"`},
		{"tenant names another namespace", func(context.Context) error {
			_, err := c.accounts.List(owner.ctx, &authv1.ListRequest{Namespace: "calm-lake"})
			return err
		}, codes.PermissionDenied, `may not act on namespace "calm-lake"`},
		{"unknown account", func(context.Context) error {
			_, err := c.accounts.Get(owner.ctx, &authv1.GetRequest{Id: "nobody"})
			return err
		}, codes.NotFound, `no account "nobody" in namespace "brave-otter"`},
		{"taken name", func(context.Context) error {
			_, err := c.accounts.Create(owner.ctx, &authv1.CreateRequest{Name: "dev", Secret: "x-secret-123"})
			return err
		}, codes.AlreadyExists, `namespace "brave-otter" already has an account "dev"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.call(t.Context()))
			if st.Code() != tt.code || !strings.HasSuffix(st.Message(), tt.want) {
				t.Errorf("%s = %v: %q, want %v ending %q", tt.name, st.Code(), st.Message(), tt.code, tt.want)
			}
		})
	}
}
