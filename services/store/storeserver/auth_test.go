package storeserver_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/platform"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/coretest"
)

// TestServeTokensFromAuth runs the store process with --auth-address as in
// production: the store starts first, with auth not up yet, and auth then
// keeps its state in it. Tokens that auth issues must be accepted once it
// is up, and an account's token refused once auth revokes the account,
// which keys read once from a file could never do.
func TestServeTokensFromAuth(t *testing.T) {
	p := coretest.New(t, platform.Store, platform.Auth)
	p.ServeStore(t)
	p.ServeAuth(t)

	id, tok := p.Account(t, "tenant-a", "alice")
	// Users reach the store through the proxy, whose certificate vouches
	// for nobody: the token alone says who calls.
	client := storev1.NewStoreServiceClient(p.Dial(t, p.Addr(platform.Store), "micro", "proxy", coretest.Core("store")))
	alice := identity.WithBearer(t.Context(), tok)
	write := &storev1.WriteRequest{Record: &storev1.Record{Key: "greeting", Value: []byte("hello")}}
	coretest.Eventually(t, "Write(as alice)", func() error {
		_, err := client.Write(alice, write)
		return err
	})
	resp, err := client.Read(alice, &storev1.ReadRequest{Key: "greeting"})
	if err != nil || string(resp.GetRecords()[0].GetValue()) != "hello" {
		t.Fatalf("Read(greeting) as alice = %v, %v, want hello", resp, err)
	}
	if _, err := client.Read(t.Context(), &storev1.ReadRequest{Key: "greeting"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Read(greeting) through the proxy without a token = %v, want Unauthenticated", err)
	}

	_, admin := p.Login(t, "micro", "admin", coretest.AdminPassword)
	a, _ := p.Auth(t)
	if _, err := a.Revoke(identity.WithBearer(t.Context(), admin), &authv1.RevokeRequest{AccountId: id, Namespace: "tenant-a"}); err != nil {
		t.Fatalf("Revoke(alice) = %v", err)
	}
	coretest.Eventually(t, "Read(greeting) as revoked alice", func() error {
		if _, err := client.Read(alice, &storev1.ReadRequest{Key: "greeting"}); status.Code(err) != codes.Unauthenticated {
			return fmt.Errorf("%v, want Unauthenticated", err)
		}
		return nil
	})
}
