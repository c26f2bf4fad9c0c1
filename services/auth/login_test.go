package auth_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// TestBadCredentials checks that a wrong secret, an unknown account and a
// disabled account all get the very same answer.
func TestBadCredentials(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "ann", "ann-secret-1")
	create(t, c, admin, "brave-otter", "bob", "bob-secret-1")
	if _, err := c.accounts.Disable(admin.ctx, &authv1.DisableRequest{Namespace: "brave-otter", Id: "bob"}); err != nil {
		t.Fatalf("Disable(bob) = %v", err)
	}

	answer := func(ns, id, secret string) *status.Status {
		_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: id, Secret: secret})
		return status.Convert(err)
	}
	want := answer("brave-otter", "ann", "wrong-secret")
	if want.Code() != codes.Unauthenticated {
		t.Fatalf("Token(wrong secret) = %v, want Unauthenticated", want.Err())
	}
	for _, tt := range []struct{ name, ns, id, secret string }{
		{"unknown account", "brave-otter", "nobody", "wrong-secret"},
		{"unknown id-shaped account", "brave-otter", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "wrong-secret"},
		{"unknown namespace", "calm-lake", "ann", "ann-secret-1"},
		{"disabled account, right secret", "brave-otter", "bob", "bob-secret-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := answer(tt.ns, tt.id, tt.secret)
			if diff := cmp.Diff(want.Proto(), got.Proto(), protocmp.Transform()); diff != "" {
				t.Errorf("Token(%s) answer differs from a wrong secret's (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestRateLimit checks that five failures lock an account out for the
// window, known or unknown alike, and leave other accounts alone.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "ann", "ann-secret-1")
	create(t, c, admin, "calm-lake", "ann", "ann-secret-1")
	try := func(ns, id, secret string) codes.Code {
		_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: id, Secret: secret})
		return status.Code(err)
	}
	for _, id := range []string{"ann", "nobody"} {
		for i := range 5 {
			if got := try("brave-otter", id, "wrong-secret"); got != codes.Unauthenticated {
				t.Fatalf("Token(%s, failure %d) = %v, want Unauthenticated", id, i+1, got)
			}
		}
		if got := try("brave-otter", id, "wrong-secret"); got != codes.ResourceExhausted {
			t.Errorf("Token(%s, sixth failure) = %v, want ResourceExhausted", id, got)
		}
	}
	if got := try("brave-otter", "ann", "ann-secret-1"); got != codes.ResourceExhausted {
		t.Errorf("Token(right secret while limited) = %v, want ResourceExhausted", got)
	}
	if got := try("calm-lake", "ann", "ann-secret-1"); got != codes.OK {
		t.Errorf("Token(same name in another namespace) = %v, want OK", got)
	}
	// Alternating between name and id buys no extra tries.
	bob := create(t, c, admin, "calm-lake", "bob", "bob-secret-1")
	for i, id := range []string{"bob", bob.GetId(), "bob", bob.GetId(), "bob"} {
		if got := try("calm-lake", id, "wrong-secret"); got != codes.Unauthenticated {
			t.Fatalf("Token(bob, failure %d) = %v, want Unauthenticated", i+1, got)
		}
	}
	if got := try("calm-lake", bob.GetId(), "bob-secret-1"); got != codes.ResourceExhausted {
		t.Errorf("Token(bob by id after five failures by name and id) = %v, want ResourceExhausted", got)
	}
	e.clock.Advance(e.cfg.FailureWindow)
	if got := try("brave-otter", "ann", "ann-secret-1"); got != codes.OK {
		t.Errorf("Token(right secret a window later) = %v, want OK", got)
	}
}
