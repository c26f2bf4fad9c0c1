package identity_test

import (
	"testing"

	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/identity"
)

func TestCallerPredicates(t *testing.T) {
	tests := []struct {
		name      string
		c         identity.Caller
		admin     bool
		coreSvc   bool
		developer bool
	}{
		{"platform admin", identity.Caller{Namespace: "micro", Subject: "admin", Roles: []string{"admin"}}, true, false, false},
		{"admin role in a tenant namespace", identity.Caller{Namespace: "brave-otter-lamp", Subject: "a", Roles: []string{"admin"}}, false, false, false},
		{"core service", identity.Caller{Namespace: "micro", Subject: "store", Service: "store"}, false, true, false},
		{"tenant service over mTLS", identity.Caller{Namespace: "brave-otter-lamp", Subject: "hello", Service: "hello"}, false, false, false},
		{"developer", identity.Caller{Namespace: "brave-otter-lamp", Subject: "acc-1", Roles: []string{"developer"}}, false, false, true},
		{"nobody", identity.Caller{}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.IsAdmin(); got != tt.admin {
				t.Errorf("%+v.IsAdmin() = %v, want %v", tt.c, got, tt.admin)
			}
			if got := tt.c.IsCoreService(); got != tt.coreSvc {
				t.Errorf("%+v.IsCoreService() = %v, want %v", tt.c, got, tt.coreSvc)
			}
			if got := tt.c.HasRole("developer"); got != tt.developer {
				t.Errorf("%+v.HasRole(developer) = %v, want %v", tt.c, got, tt.developer)
			}
		})
	}
}

func TestContext(t *testing.T) {
	if c, ok := identity.FromContext(t.Context()); ok {
		t.Errorf("FromContext(empty) = %+v, true, want false", c)
	}
	want := identity.Caller{Namespace: "micro", Subject: "auth", Service: "auth"}
	got, ok := identity.FromContext(identity.NewContext(t.Context(), want))
	if !ok || got.String() != want.String() {
		t.Errorf("FromContext(NewContext(%v)) = %v, %v, want %v, true", want, got, ok, want)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		ok     bool
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"scheme in lower case", []string{"bearer abc"}, "abc", true},
		{"none", nil, "", false},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", false},
		{"no token", []string{"Bearer "}, "", false},
		{"no scheme", []string{"abc.def.ghi"}, "", false},
		{"extra word", []string{"Bearer abc def"}, "", false},
		{"tab in the token", []string{"Bearer abc\tdef"}, "", false},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := metadata.MD{}
			for _, v := range tt.values {
				md.Append("authorization", v)
			}
			got, ok := identity.BearerToken(metadata.NewIncomingContext(t.Context(), md))
			if got != tt.want || ok != tt.ok {
				t.Errorf("BearerToken(%q) = %q, %v, want %q, %v", tt.values, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestWithBearerReplaces(t *testing.T) {
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer old", "x-other", "kept")
	ctx = identity.WithBearer(ctx, "new")
	md, _ := metadata.FromOutgoingContext(ctx)
	if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer new" {
		t.Errorf("WithBearer(new) authorization = %q, want [\"Bearer new\"]", got)
	}
	if got := md.Get("x-other"); len(got) != 1 {
		t.Errorf("WithBearer() dropped other metadata: x-other = %q", got)
	}
}
