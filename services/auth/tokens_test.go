package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/authkeys"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/internal/statustest"
)

func TestTokenFlow(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	ctx := t.Context()

	byName := login(t, c, "", "admin", adminPassword)
	byID := login(t, c, "micro", byName.account.GetId(), adminPassword)
	if byID.account.GetName() != "admin" || byName.token.GetRefreshToken() == "" || byName.token.GetAccessToken() == "" {
		t.Fatalf("Token(by id) = %v, want the admin account with both tokens", byID.account)
	}
	if ttl := byName.token.GetExpiry().AsTime().Sub(byName.token.GetCreated().AsTime()); ttl < 14*time.Minute || ttl > 15*time.Minute {
		t.Errorf("access token lifetime = %s, want the 15 minute default", ttl)
	}
	insp, err := c.auth.Inspect(byName.ctx, &authv1.InspectRequest{Token: byName.token.GetAccessToken()})
	if err != nil || insp.GetAccount().GetId() != byName.account.GetId() {
		t.Fatalf("Inspect(fresh token) = %v, %v, want the admin account", insp, err)
	}

	first := byName.token.GetRefreshToken()
	r1, err := c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: first})
	if err != nil {
		t.Fatalf("Token(refresh) = %v, want a new pair", err)
	}
	second := r1.GetToken().GetRefreshToken()
	if second == first || r1.GetToken().GetAccessToken() == byName.token.GetAccessToken() {
		t.Fatalf("Token(refresh) returned the same refresh or access token, want both rotated")
	}
	r2, err := c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: second})
	if err != nil {
		t.Fatalf("Token(rotated refresh) = %v, want a new pair", err)
	}
	third := r2.GetToken().GetRefreshToken()

	_, err = c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: first})
	statustest.WantCode(t, "Token(reused refresh token)", err, codes.Unauthenticated)
	_, err = c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: third})
	statustest.WantCode(t, "Token(newest refresh token after its family was revoked)", err, codes.Unauthenticated)

	other, err := c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: byID.token.GetRefreshToken()})
	if err != nil || other.GetToken().GetRefreshToken() == "" {
		t.Errorf("Token(refresh of another login) = %v, want it unaffected by the revoked family", err)
	}
	_, err = c.auth.Token(ctx, &authv1.TokenRequest{RefreshToken: "not-a-token"})
	statustest.WantCode(t, "Token(unknown refresh token)", err, codes.Unauthenticated)
}

func TestRevokeRefreshToken(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	if _, err := c.auth.Revoke(admin.ctx, &authv1.RevokeRequest{RefreshToken: admin.token.GetRefreshToken()}); err != nil {
		t.Fatalf("Revoke(refresh token) = %v, want nil", err)
	}
	_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{RefreshToken: admin.token.GetRefreshToken()})
	statustest.WantCode(t, "Token(revoked refresh token)", err, codes.Unauthenticated)
	_, err = c.auth.Revoke(t.Context(), &authv1.RevokeRequest{RefreshToken: admin.token.GetRefreshToken()})
	statustest.WantCode(t, "Revoke() without a token", err, codes.Unauthenticated)
}

// TestRevokeAccount revokes an account and checks that its access token
// fails at once in the auth service and, after one poll, in another
// service's verifier fed by pkg/authkeys.
func TestRevokeAccount(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)
	create(t, c, admin, "brave-otter", "ann@example.com", "ann-secret-1")
	ann := login(t, c, "brave-otter", "ann@example.com", "ann-secret-1")

	keys := authkeys.New(e.dial(t, "micro", "config").auth, authkeys.Options{})
	refresh := func(step string) {
		t.Helper()
		if err := keys.Refresh(t.Context()); err != nil {
			t.Fatalf("%s: authkeys Refresh() = %v", step, err)
		}
	}
	verifier := keys.Verifier()
	refresh("before")
	if _, err := verifier.Verify(ann.token.GetAccessToken()); err != nil {
		t.Fatalf("Verify(ann's token) before revocation = %v, want nil", err)
	}

	if _, err := c.auth.Revoke(admin.ctx, &authv1.RevokeRequest{Namespace: "brave-otter", AccountId: ann.account.GetId()}); err != nil {
		t.Fatalf("Revoke(account) = %v, want nil", err)
	}
	_, err := c.auth.Inspect(admin.ctx, &authv1.InspectRequest{Token: ann.token.GetAccessToken()})
	statustest.WantCode(t, "Inspect(revoked account's token)", err, codes.Unauthenticated)
	_, err = c.accounts.Get(ann.ctx, &authv1.GetRequest{Id: ann.account.GetId()})
	statustest.WantCode(t, "Get() with the revoked token", err, codes.Unauthenticated)
	_, err = c.auth.Token(t.Context(), &authv1.TokenRequest{RefreshToken: ann.token.GetRefreshToken()})
	statustest.WantCode(t, "Token(revoked account's refresh token)", err, codes.Unauthenticated)

	refresh("after")
	if _, err := verifier.Verify(ann.token.GetAccessToken()); err == nil {
		t.Errorf("Verify(revoked account's token) in another service = nil, want refused")
	}
	again := login(t, c, "brave-otter", "ann@example.com", "ann-secret-1")
	if _, err := verifier.Verify(again.token.GetAccessToken()); err != nil {
		t.Errorf("Verify(token of a login after the revocation) = %v, want nil", err)
	}
	if _, err := c.accounts.Get(again.ctx, &authv1.GetRequest{Id: ann.account.GetId()}); err != nil {
		t.Errorf("Get() with a token of a login after the revocation = %v, want nil", err)
	}
}

// TestKeyRotation rotates the signing key and checks that tokens of the old
// key verify until they expire, and the old key is published until its
// last token could have expired.
func TestKeyRotation(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	old := login(t, c, "", "admin", adminPassword)
	oldKid := kid(t, old.token.GetAccessToken())

	newKid, err := e.svc.Keys().Rotate(t.Context())
	if err != nil || newKid == oldKid {
		t.Fatalf("Rotate() = %q, %v, want a new key id", newKid, err)
	}
	e.clock.Advance(10 * time.Minute)
	fresh := login(t, c, "", "admin", adminPassword)
	if got := kid(t, fresh.token.GetAccessToken()); got != newKid {
		t.Fatalf("kid of a token after Rotate() = %q, want %q", got, newKid)
	}
	inspect := func(step string, u user, want codes.Code) {
		t.Helper()
		_, err := c.auth.Inspect(fresh.ctx, &authv1.InspectRequest{Token: u.token.GetAccessToken()})
		statustest.WantCode(t, step, err, want)
	}
	inspect("Inspect(old key's token) after rotation", old, codes.OK)
	inspect("Inspect(new key's token)", fresh, codes.OK)

	keys := publicKeys(t, c)
	if len(keys) != 2 || keys[oldKid].GetNotAfter() == nil || keys[newKid].GetNotAfter() != nil {
		t.Fatalf("PublicKeys() after rotation = %v, want the old key with not_after and the new without", keys)
	}

	// A restarted replica finds both keys in the store.
	e.start(t)
	c = e.dial(t, "micro", "proxy")
	inspect("Inspect(old key's token) after a restart", old, codes.OK)

	e.clock.Advance(6 * time.Minute)
	inspect("Inspect(old key's token) after it expired", old, codes.Unauthenticated)
	inspect("Inspect(new key's token) 16 minutes in", fresh, codes.OK)

	e.clock.Advance(auth.MaxAccessTTL)
	keys = publicKeys(t, c)
	if _, ok := keys[oldKid]; ok || len(keys) != 1 {
		t.Errorf("PublicKeys() a day after rotation = %v, want only the new key", keys)
	}
}

func publicKeys(t *testing.T, c clients) map[string]*authv1.PublicKey {
	t.Helper()
	resp, err := c.auth.PublicKeys(t.Context(), &authv1.PublicKeysRequest{})
	if err != nil {
		t.Fatalf("PublicKeys() = %v", err)
	}
	out := map[string]*authv1.PublicKey{}
	for _, k := range resp.GetKeys() {
		out[k.GetKid()] = k
	}
	return out
}

// kid returns the key id in a token's header.
func kid(t *testing.T, raw string) string {
	t.Helper()
	header, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(header)
	var h struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(b, &h) != nil || h.Kid == "" {
		t.Fatalf("token header %q names no key", header)
	}
	return h.Kid
}

// TestConcurrentRefresh exchanges one refresh token many times at once:
// the store's compare-and-set lets exactly one exchange win, and the others
// count as reuse, which revokes the family, the winner's new token too.
func TestConcurrentRefresh(t *testing.T) {
	e := newEnv(t, testConfig(t))
	c := e.dial(t, "micro", "proxy")
	admin := login(t, c, "", "admin", adminPassword)

	const n = 8
	results := make(chan *authv1.TokenResponse, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := c.auth.Token(t.Context(), &authv1.TokenRequest{RefreshToken: admin.token.GetRefreshToken()})
			if err != nil {
				statustest.WantCode(t, "Token(refresh) that lost", err, codes.Unauthenticated)
				return
			}
			results <- resp
		})
	}
	wg.Wait()
	close(results)
	var won []*authv1.TokenResponse
	for r := range results {
		won = append(won, r)
	}
	if len(won) != 1 {
		t.Fatalf("concurrent refreshes of one token: %d won, want exactly 1", len(won))
	}
	_, err := c.auth.Token(t.Context(), &authv1.TokenRequest{RefreshToken: won[0].GetToken().GetRefreshToken()})
	statustest.WantCode(t, "Token(winner's refresh token after the replays)", err, codes.Unauthenticated)
}
