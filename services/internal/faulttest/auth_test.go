package faulttest_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/faulttest"
)

// TestAuthKilled kills the auth service with SIGKILL while a tenant writes
// through the proxy to the store, each its own process. Tokens still
// verify from the keys the store and the proxy hold, so the writes go on
// while auth is away; logins fail with Unavailable meanwhile, and succeed
// again once auth is back. Nothing acknowledged is lost.
func TestAuthKilled(t *testing.T) {
	pl := startPlatform(t, layout{auth: 1})
	conn := pl.client(t)
	tenant := newTenant(t, conn)
	store := storev1.NewStoreServiceClient(conn)
	w := faulttest.Start(4, 25, storeWrites(store, tenant))
	w.WaitForAcks(t, 200)

	pl.auth[0].Kill9()
	w.WaitForAcks(t, w.Acks()+200) // while auth is away
	refused := loginCodes(t, conn, 5)
	pl.auth[0].Start()
	back := time.Now()
	relogin := loginAgain(t, conn)
	w.Stop()

	lost := w.Lost(t, storeReads(store, tenant))
	t.Logf("auth killed: %d writes acknowledged, %d lost, write codes %v; logins while away %v; a login succeeded %v after auth was back",
		w.Acks(), lost, w.Codes(), refused, relogin.Sub(back).Round(time.Millisecond))
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost while auth was away", lost)
	}
	w.CheckCodes(t, "auth's absence")
	for _, code := range refused {
		if code != codes.Unavailable && code != codes.DeadlineExceeded {
			t.Errorf("a login while auth was away = %v, want Unavailable or DeadlineExceeded", code)
		}
	}
}

// login logs name in to ns and returns a context carrying its token.
func login(t *testing.T, conn *grpc.ClientConn, ns, name, secret string) context.Context {
	t.Helper()
	resp, err := authv1.NewAuthServiceClient(conn).Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v", ns, name, err)
	}
	return identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken())
}

// loginCodes tries n logins and returns the code of each.
func loginCodes(t *testing.T, conn *grpc.ClientConn, n int) []codes.Code {
	var out []codes.Code
	for range n {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		_, err := authv1.NewAuthServiceClient(conn).Token(ctx, &authv1.TokenRequest{Namespace: "fault-space", Id: "dev", Secret: "dev-secret-123"})
		cancel()
		out = append(out, status.Code(err))
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

// loginAgain tries to log in until it succeeds, and returns when it did;
// two minutes without is an auth service that did not recover.
func loginAgain(t *testing.T, conn *grpc.ClientConn) time.Time {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		codes := loginCodes(t, conn, 1)
		if codes[0] == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("no login succeeded in 2 minutes after auth was back; the last: %v", codes[0])
		}
	}
}

// TestAuthReplicaKilled runs two auth replicas behind one comma-separated
// address, which the store and the proxy follow for keys and rules, and
// kills one with SIGKILL under a tenant's writes: logins and writes go on
// through the other, and nothing acknowledged is lost.
func TestAuthReplicaKilled(t *testing.T) {
	pl := startPlatform(t, layout{auth: 2})
	conn := pl.client(t)
	tenant := newTenant(t, conn)
	store := storev1.NewStoreServiceClient(conn)
	w := faulttest.Start(4, 25, storeWrites(store, tenant))
	w.WaitForAcks(t, 200)
	pl.auth[0].Kill9()
	killed := time.Now()
	relogin := loginAgain(t, conn)
	logins := loginCodes(t, conn, 10)
	w.WaitForAcks(t, w.Acks()+200)
	w.Stop()

	lost := w.Lost(t, storeReads(store, tenant))
	t.Logf("one of two auth replicas killed: %d writes acknowledged, %d lost, write codes %v; a login succeeded %v after the kill, then %v",
		w.Acks(), lost, w.Codes(), relogin.Sub(killed).Round(time.Millisecond), logins)
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost when an auth replica died", lost)
	}
	w.CheckCodes(t, "an auth replica's death")
	for _, code := range logins {
		if code != codes.OK {
			t.Errorf("a login with one auth replica left = %v, want OK", code)
		}
	}
}
