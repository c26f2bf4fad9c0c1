package auth_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// TestBadInput sends malformed requests: each is InvalidArgument, names the
// field at fault, and changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	long := strings.Repeat("x", 300)
	all := svcRes("*", "*")
	tests := []struct {
		name  string
		field string
		call  func(ctx context.Context) error
	}{
		{"login without secret", "secret", func(ctx context.Context) error {
			_, err := c.auth.Token(ctx, &authv1.TokenRequest{Id: "admin"})
			return err
		}},
		{"login with a bad namespace", "namespace", func(ctx context.Context) error {
			_, err := c.auth.Token(ctx, &authv1.TokenRequest{Namespace: "Bad_NS", Id: "admin", Secret: "x"})
			return err
		}},
		{"refresh with credentials", "refresh_token", func(ctx context.Context) error {
			_, err := c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: "r", Id: "admin", Secret: "x"})
			return err
		}},
		{"ttl over a day", "ttl_seconds", func(ctx context.Context) error {
			_, err := c.auth.Token(ctx, &authv1.TokenRequest{Id: "admin", Secret: adminPassword, TtlSeconds: 86401})
			return err
		}},
		{"inspect nothing", "token", func(ctx context.Context) error {
			_, err := c.auth.Inspect(ctx, &authv1.InspectRequest{})
			return err
		}},
		{"revoke both", "refresh_token", func(ctx context.Context) error {
			_, err := c.auth.Revoke(ctx, &authv1.RevokeRequest{RefreshToken: "r", AccountId: "a"})
			return err
		}},
		{"short secret", "secret", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: "a", Secret: "short"})
			return err
		}},
		{"one of the commonest passwords", "secret", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: "a", Secret: "Password123"})
			return err
		}},
		{"secret of white space", "secret", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: "a", Secret: " \t        "})
			return err
		}},
		{"long name", "name", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: long, Secret: "long-enough"})
			return err
		}},
		{"control character in name", "name", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: "a\x00b", Secret: "long-enough"})
			return err
		}},
		{"bad role", "roles[0]", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: "a", Secret: "long-enough", Roles: []string{"Admin!"}})
			return err
		}},
		{"unknown account type", "type", func(ctx context.Context) error {
			_, err := c.accounts.Create(ctx, &authv1.CreateRequest{Name: "a", Secret: "long-enough", Type: 9})
			return err
		}},
		{"get without id", "id", func(ctx context.Context) error {
			_, err := c.accounts.Get(ctx, &authv1.GetRequest{})
			return err
		}},
		{"huge page", "page_size", func(ctx context.Context) error {
			_, err := c.accounts.List(ctx, &authv1.ListRequest{PageSize: 1001})
			return err
		}},
		{"garbage page token", "page_token", func(ctx context.Context) error {
			_, err := c.accounts.List(ctx, &authv1.ListRequest{PageToken: "!!"})
			return err
		}},
		{"short new secret", "new_secret", func(ctx context.Context) error {
			_, err := c.accounts.ChangeSecret(ctx, &authv1.ChangeSecretRequest{Id: "admin", NewSecret: "x"})
			return err
		}},
		{"common new secret", "new_secret", func(ctx context.Context) error {
			_, err := c.accounts.ChangeSecret(ctx, &authv1.ChangeSecretRequest{Id: "admin", NewSecret: "qwertyuiop"})
			return err
		}},
		{"rule without access", "rule.access", func(ctx context.Context) error {
			_, err := c.rules.Create(ctx, &authv1.RulesServiceCreateRequest{Rule: &authv1.Rule{Scope: "*", Resource: all}})
			return err
		}},
		{"rule with a bad scope", "rule.scope", func(ctx context.Context) error {
			_, err := c.rules.Create(ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("", "Not A Role", all, grant, 0)})
			return err
		}},
		{"rule without a resource", "rule.resource.name", func(ctx context.Context) error {
			_, err := c.rules.Create(ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("", "*", nil, grant, 0)})
			return err
		}},
		{"rule below the lowest priority", "rule.priority", func(ctx context.Context) error {
			_, err := c.rules.Create(ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("", "*", all, grant, -1_000_001)})
			return err
		}},
		{"rule id with capitals", "rule.id", func(ctx context.Context) error {
			_, err := c.rules.Create(ctx, &authv1.RulesServiceCreateRequest{Rule: newRule("Mine", "*", all, grant, 0)})
			return err
		}},
		{"explain without resource", "resource.type", func(ctx context.Context) error {
			_, err := c.rules.Explain(ctx, &authv1.ExplainRequest{})
			return err
		}},
		{"delete rule without id", "id", func(ctx context.Context) error {
			_, err := c.rules.Delete(ctx, &authv1.RulesServiceDeleteRequest{})
			return err
		}},
	}
	before := snap(t, c, admin, "micro")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(admin.ctx)
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("%s = %v, want InvalidArgument", tt.name, err)
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if !strings.Contains(strings.Join(fields, ","), tt.field) {
				t.Errorf("%s field violations = %v, want %q among them", tt.name, fields, tt.field)
			}
		})
	}
	if diff := cmpSnap(before, snap(t, c, admin, "micro")); diff != "" {
		t.Errorf("micro changed under bad input (-before +after):\n%s", diff)
	}
}
