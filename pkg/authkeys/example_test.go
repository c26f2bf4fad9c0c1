package authkeys_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// publisher stands in for the auth service's PublicKeys: it publishes one
// signing key.
type publisher struct{ signer *token.Signer }

func (p publisher) PublicKeys(context.Context, *authv1.PublicKeysRequest, ...grpc.CallOption) (*authv1.PublicKeysResponse, error) {
	return &authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{{Kid: p.signer.KeyID(), Key: p.signer.PublicKey()}}}, nil
}

// A service verifies tokens locally: Start keeps the published keys
// current in the background, and the verifier checks each caller's token
// with no call to auth.
func Example() {
	kid, priv, _ := token.GenerateKey()
	signer := token.NewSigner(kid, priv)
	// In a service the fetcher is authv1.NewAuthServiceClient over an mTLS
	// connection to auth.
	keys := authkeys.New(publisher{signer}, authkeys.Options{})
	stop := keys.Start(context.Background())
	defer stop()
	<-keys.Loaded()

	now := time.Now()
	raw, _ := signer.Sign(token.Claims{Subject: "ann", Namespace: "brave-otter-lamp", IssuedAt: now, ExpiresAt: now.Add(time.Minute), ID: token.NewID()})
	claims, err := keys.Verifier().Verify(raw)
	fmt.Println(claims.Subject, claims.Namespace, err)
	// Output: ann brave-otter-lamp <nil>
}
