package token_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"m3o.dev/pkg/token"
)

// epoch is the fixed "now" of these tests.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newSigner(t testing.TB) *token.Signer {
	t.Helper()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	return token.NewSigner(kid, priv)
}

func keySet(signers ...*token.Signer) *token.KeySet {
	ks := token.NewKeySet()
	for _, s := range signers {
		ks.Add(s.KeyID(), s.PublicKey())
	}
	return ks
}

func claimsAt(now time.Time) token.Claims {
	return token.Claims{
		Subject:   "acc-1",
		Namespace: "brave-otter-lamp",
		Type:      "user",
		Roles:     []string{"developer"},
		SessionID: "session-1",
		IssuedAt:  now,
		ExpiresAt: now.Add(15 * time.Minute),
		ID:        "jti-1",
	}
}

func sign(t testing.TB, s *token.Signer, c token.Claims) string {
	t.Helper()
	raw, err := s.Sign(c)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	return raw
}

// clock is a settable clock for a Verifier.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func TestRoundTrip(t *testing.T) {
	s := newSigner(t)
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }))
	want := claimsAt(epoch)
	want.NotBefore = epoch.Add(-time.Minute)
	raw := sign(t, s, want)
	for _, pass := range []string{"uncached", "cached"} {
		got, err := v.Verify(raw)
		if err != nil {
			t.Fatalf("Verify(%s) = %v", pass, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Verify(%s) claims differ (-want +got):\n%s", pass, diff)
		}
	}
}

func TestSignRequiresExpiry(t *testing.T) {
	c := claimsAt(epoch)
	c.ExpiresAt = time.Time{}
	if raw, err := newSigner(t).Sign(c); err == nil {
		t.Errorf("Sign(no exp) = %q, nil, want error", raw)
	}
}

func TestHasRole(t *testing.T) {
	c := token.Claims{Roles: []string{"developer", "admin"}}
	tests := []struct {
		role string
		want bool
	}{
		{"admin", true},
		{"developer", true},
		{"service", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			if got := c.HasRole(tt.role); got != tt.want {
				t.Errorf("HasRole(%q) = %v, want %v", tt.role, got, tt.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name   string
		retire func(ks *token.KeySet, old, cur *token.Signer)
	}{
		{"remove", func(ks *token.KeySet, old, _ *token.Signer) { ks.Remove(old.KeyID()) }},
		{"replace", func(ks *token.KeySet, _, cur *token.Signer) {
			ks.Replace(map[string]ed25519.PublicKey{cur.KeyID(): cur.PublicKey()})
		}},
		{"same kid, other key", func(ks *token.KeySet, old, cur *token.Signer) { ks.Add(old.KeyID(), cur.PublicKey()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cur := newSigner(t), newSigner(t)
			ks := keySet(old, cur)
			v := token.NewVerifier(ks, token.WithClock(func() time.Time { return epoch }))
			oldTok, curTok := sign(t, old, claimsAt(epoch)), sign(t, cur, claimsAt(epoch))
			for _, raw := range []string{oldTok, curTok} {
				if _, err := v.Verify(raw); err != nil {
					t.Fatalf("Verify() with both keys = %v, want nil", err)
				}
			}
			if got := token.CacheLen(v); got != 2 {
				t.Fatalf("CacheLen() = %d, want 2", got)
			}
			tt.retire(ks, old, cur)
			if _, err := v.Verify(oldTok); !errors.Is(err, token.ErrInvalid) {
				t.Errorf("Verify(token of retired key) = %v, want ErrInvalid", err)
			}
			if _, err := v.Verify(curTok); err != nil {
				t.Errorf("Verify(token of current key) = %v, want nil", err)
			}
		})
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	s := newSigner(t)
	clk := &clock{now: epoch}
	v := token.NewVerifier(keySet(s), token.WithClock(clk.Now))
	raw := sign(t, s, claimsAt(epoch))
	if _, err := v.Verify(raw); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	clk.now = epoch.Add(15 * time.Minute)
	if _, err := v.Verify(raw); !errors.Is(err, token.ErrInvalid) {
		t.Errorf("Verify(cached token at exp) = %v, want ErrInvalid", err)
	}
}

func TestRevocationCheckedOnCacheHits(t *testing.T) {
	s := newSigner(t)
	errRevoked := errors.New("account disabled")
	var checked []string
	revoked := false
	check := func(c token.Claims) error {
		checked = append(checked, c.ID)
		if revoked {
			return errRevoked
		}
		return nil
	}
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }), token.WithRevocationCheck(check))
	raw := sign(t, s, claimsAt(epoch))
	if _, err := v.Verify(raw); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	revoked = true
	_, err := v.Verify(raw)
	if !errors.Is(err, token.ErrInvalid) || !errors.Is(err, errRevoked) {
		t.Errorf("Verify(revoked, cached) = %v, want ErrInvalid wrapping the check's error", err)
	}
	if want := []string{"jti-1", "jti-1"}; !cmp.Equal(checked, want) {
		t.Errorf("revocation check saw %v, want %v", checked, want)
	}
}

func TestClaimsNotShared(t *testing.T) {
	s := newSigner(t)
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }))
	raw := sign(t, s, claimsAt(epoch))
	for range 2 {
		c, err := v.Verify(raw)
		if err != nil {
			t.Fatalf("Verify() = %v", err)
		}
		if c.HasRole("admin") {
			t.Fatalf("Verify().Roles = %v, a caller's change leaked into the cache", c.Roles)
		}
		c.Roles[0] = "admin"
	}
}

func TestCacheBounded(t *testing.T) {
	s := newSigner(t)
	v := token.NewVerifier(keySet(s), token.WithClock(func() time.Time { return epoch }), token.WithCacheSize(3))
	for i := range 10 {
		c := claimsAt(epoch)
		c.ID = token.NewID()
		raw := sign(t, s, c)
		if _, err := v.Verify(raw); err != nil {
			t.Fatalf("Verify(token %d) = %v", i, err)
		}
	}
	if got := token.CacheLen(v); got != 3 {
		t.Errorf("CacheLen() = %d, want 3", got)
	}
}

func TestCacheDisabled(t *testing.T) {
	s := newSigner(t)
	ks := keySet(s)
	v := token.NewVerifier(ks, token.WithClock(func() time.Time { return epoch }), token.WithCacheSize(0))
	raw := sign(t, s, claimsAt(epoch))
	if _, err := v.Verify(raw); err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	if got := token.CacheLen(v); got != 0 {
		t.Errorf("CacheLen() = %d, want 0", got)
	}
}

func TestKeysReturnsCopy(t *testing.T) {
	s := newSigner(t)
	ks := keySet(s)
	keys := ks.Keys()
	keys[s.KeyID()][0] ^= 0xff
	delete(keys, s.KeyID())
	got, ok := ks.Keys()[s.KeyID()]
	if !ok || !got.Equal(s.PublicKey()) {
		t.Errorf("Keys()[%q] = %x, %v after changing a returned copy, want %x, true", s.KeyID(), got, ok, s.PublicKey())
	}
}

func TestKeyID(t *testing.T) {
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	if got := token.KeyID(priv.Public().(ed25519.PublicKey)); got != kid {
		t.Errorf("KeyID(pub) = %q, want %q as GenerateKey said", got, kid)
	}
}

func TestConcurrentVerifyAndRotate(t *testing.T) {
	s := newSigner(t)
	ks := keySet(s)
	v := token.NewVerifier(ks, token.WithClock(func() time.Time { return epoch }))
	raw := sign(t, s, claimsAt(epoch))
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 200 {
				if _, err := v.Verify(raw); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	// Churn other keys while the token's own key stays: the token must
	// keep verifying throughout.
	for range 50 {
		other := newSigner(t)
		ks.Add(other.KeyID(), other.PublicKey())
		ks.Remove(other.KeyID())
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("Verify() during rotation = %v, want nil", err)
		}
	}
}
