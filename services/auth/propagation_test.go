package auth_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
)

// poll is an hour: nothing here may arrive by polling, only by push.
const poll = time.Hour

// followKeys starts a verifier's view of the keys of the auth service at
// addr, as another service keeps it, and waits for the first answer.
func (e *env) followKeys(t *testing.T, addr string) *authkeys.Client {
	t.Helper()
	saved := e.addr
	e.addr = addr
	keys := authkeys.New(e.dial(t, "micro", "config").auth, authkeys.Options{Interval: poll})
	e.addr = saved
	t.Cleanup(keys.Start(t.Context()))
	<-keys.Loaded()
	return keys
}

// runReplica runs svc's background loop until the test ends.
func runReplica(t *testing.T, svc *auth.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// refusedWithin waits until keys refuse raw, and returns how long that
// took; the test fails if it takes more than 10s.
func refusedWithin(t *testing.T, keys *authkeys.Client, raw string, start time.Time) time.Duration {
	t.Helper()
	v := keys.Verifier()
	for {
		if _, err := v.Verify(raw); err != nil {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("token still accepted 10s after its revocation")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPropagation measures how long a revocation, a logout and a rule
// change take to reach the verifiers and rule caches of other services,
// which watch instead of polling: on the auth replica that made the change,
// and on another replica, which learns of it through the store. It logs
// the figures and asserts only that each arrives.
func TestPropagation(t *testing.T) {
	cfg := testConfig(t)
	e := newEnv(t, cfg)
	runReplica(t, e.svc)
	addrA := e.addr
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "ann", "ann-secret-1", "developer")
	keysA := e.followKeys(t, addrA)
	runReplica(t, e.start(t))
	keysB := e.followKeys(t, e.addr)

	t.Run("account revocation", func(t *testing.T) {
		ann := login(t, c, "brave-otter", "ann", "ann-secret-1")
		start := time.Now()
		if _, err := c.auth.Revoke(admin.ctx, &authv1.RevokeRequest{Namespace: "brave-otter", AccountId: ann.account.GetId()}); err != nil {
			t.Fatalf("Revoke(account) = %v", err)
		}
		t.Logf("account revocation refused by a verifier of the same replica after %v, of another replica after %v",
			refusedWithin(t, keysA, ann.token.GetAccessToken(), start), refusedWithin(t, keysB, ann.token.GetAccessToken(), start))
	})
	t.Run("logout", func(t *testing.T) {
		ann := login(t, c, "brave-otter", "ann", "ann-secret-1")
		start := time.Now()
		if _, err := c.auth.Revoke(ann.ctx, &authv1.RevokeRequest{RefreshToken: ann.token.GetRefreshToken()}); err != nil {
			t.Fatalf("Revoke(refresh token) = %v", err)
		}
		t.Logf("logged-out access token refused by a verifier of the same replica after %v, of another replica after %v",
			refusedWithin(t, keysA, ann.token.GetAccessToken(), start), refusedWithin(t, keysB, ann.token.GetAccessToken(), start))
	})
	t.Run("rule change", func(t *testing.T) {
		cacheA, cacheB := e.followRules(t, addrA), e.followRules(t, e.addr)
		r := newRule("no-read", "*", svcRes("m3o.store.v1.StoreService", "Read"), deny, 10)
		r.Namespace = "brave-otter"
		start := time.Now()
		if _, err := c.rules.Create(admin.ctx, &authv1.RulesServiceCreateRequest{Rule: r}); err != nil {
			t.Fatalf("Create(rule) = %v", err)
		}
		t.Logf("new rule in the cache of a service watching the same replica after %v, another replica after %v",
			ruleWithin(t, cacheA, "no-read", start), ruleWithin(t, cacheB, "no-read", start))
	})
}

// followRules starts a rule cache of brave-otter's rules, as the proxy
// keeps one, watching the auth service at addr.
func (e *env) followRules(t *testing.T, addr string) *rules.Cache {
	t.Helper()
	saved := e.addr
	e.addr = addr
	cache := rules.NewCache(e.dial(t, "micro", "runtime").rules, slog.New(slog.DiscardHandler), poll)
	e.addr = saved
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cache.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := cache.Rules(t.Context(), "brave-otter"); err != nil {
		t.Fatalf("Rules() = %v", err)
	}
	return cache
}

// ruleWithin waits until cache holds rule id of brave-otter, and returns
// how long that took; the test fails if it takes more than 10s.
func ruleWithin(t *testing.T, cache *rules.Cache, id string, start time.Time) time.Duration {
	t.Helper()
	for {
		list, _ := cache.Rules(t.Context(), "brave-otter")
		if slices.ContainsFunc(list, func(r rules.Rule) bool { return r.ID == id }) {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("rule %s not in the cache 10s after it was made", id)
		}
		time.Sleep(time.Millisecond)
	}
}
