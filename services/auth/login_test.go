package auth_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"m3o.dev/pkg/mtls/mtlstest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/internal/statustest"
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

// from returns a context whose calls, made through a connection as
// micro/proxy, come from the client at addr.
func from(t *testing.T, addr string) context.Context {
	return metadata.AppendToOutgoingContext(t.Context(), "x-forwarded-for", addr+":50000")
}

// syncBuffer is a buffer that a server writes logs to while a test reads
// them.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLimitEnv starts an auth service with its logs in logs and its
// metrics in a registry of their own.
func newLimitEnv(t *testing.T, cfg auth.Config, logs *syncBuffer) (*env, *prometheus.Registry) {
	t.Helper()
	e := &env{ca: mtlstest.NewCA(t), cfg: cfg, clock: newClock()}
	e.storeAddr = e.serveStore(t)
	reg := prometheus.NewRegistry()
	e.startWith(t, auth.Deps{Metrics: reg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return e, reg
}

// lockouts returns m3o_auth_lockouts_total{scope}.
func lockouts(t *testing.T, reg *prometheus.Registry, scope string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == "m3o_auth_lockouts_total" && m.GetLabel()[0].GetValue() == scope {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestLockoutSparesOtherAddresses checks that failures from one address
// lock the account out for that address only: its owner, elsewhere, still
// logs in with the right secret. The lock-out is logged, without the
// secrets, and counted.
func TestLockoutSparesOtherAddresses(t *testing.T) {
	var logs syncBuffer
	e, reg := newLimitEnv(t, testConfig(t), &logs)
	c := e.dial(t, "micro", "proxy")
	try := func(ctx context.Context, secret string) codes.Code {
		_, err := c.auth.Token(ctx, &authv1.TokenRequest{Id: "admin", Secret: secret})
		return status.Code(err)
	}
	attacker, owner := from(t, "203.0.113.7"), from(t, "198.51.100.2")
	for i := range 5 {
		if got := try(attacker, "wrong-secret-1"); got != codes.Unauthenticated {
			t.Fatalf("Token(wrong secret %d from the attacker) = %v, want Unauthenticated", i+1, got)
		}
	}
	steps := []struct {
		name   string
		ctx    context.Context
		secret string
		want   codes.Code
	}{
		{"attacker, right secret", attacker, adminPassword, codes.ResourceExhausted},
		{"owner from elsewhere, right secret", owner, adminPassword, codes.OK},
	}
	for _, s := range steps {
		if got := try(s.ctx, s.secret); got != s.want {
			t.Errorf("Token(%s) = %v, want %v", s.name, got, s.want)
		}
	}
	if got := lockouts(t, reg, "account"); got != 1 {
		t.Errorf("m3o_auth_lockouts_total{scope=account} = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "too many failed logins") || !strings.Contains(logs.String(), "client_address=203.0.113.7") {
		t.Errorf("logs = %q, want the lock-out with the attacker's address", logs.String())
	}
	if strings.Contains(logs.String(), "wrong-secret-1") || strings.Contains(logs.String(), adminPassword) {
		t.Errorf("logs hold a secret: %q", logs.String())
	}
}

// TestAddressLimit checks that one address guessing across accounts is
// refused for every account, and other addresses are not.
func TestAddressLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxAddressFailures = 3
	var logs syncBuffer
	e, reg := newLimitEnv(t, cfg, &logs)
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	for _, name := range []string{"ann", "bob", "cid", "dan"} {
		create(t, c, admin, "brave-otter", name, name+"-secret-1")
	}
	sprayer := from(t, "203.0.113.9")
	for _, name := range []string{"ann", "bob", "cid"} {
		_, err := c.auth.Token(sprayer, &authv1.TokenRequest{Namespace: "brave-otter", Id: name, Secret: "wrong-secret"})
		statustest.WantCode(t, "Token(wrong secret for "+name+")", err, codes.Unauthenticated)
	}
	_, err := c.auth.Token(sprayer, &authv1.TokenRequest{Namespace: "brave-otter", Id: "dan", Secret: "dan-secret-1"})
	statustest.WantCode(t, "Token(dan, right secret, from the address over its limit)", err, codes.ResourceExhausted)
	_, err = c.auth.Token(from(t, "198.51.100.3"), &authv1.TokenRequest{Namespace: "brave-otter", Id: "dan", Secret: "dan-secret-1"})
	statustest.WantCode(t, "Token(dan, right secret, from elsewhere)", err, codes.OK)
	if got := lockouts(t, reg, "address"); got != 1 {
		t.Errorf("m3o_auth_lockouts_total{scope=address} = %v, want 1", got)
	}
}
