package token_test

import (
	"fmt"
	"time"

	"m3o.dev/pkg/token"
)

// The auth service signs; every other service verifies with the public keys
// only.
func Example() {
	kid, priv, err := token.GenerateKey()
	if err != nil {
		panic(err)
	}
	signer := token.NewSigner(kid, priv)

	keys := token.NewKeySet()
	keys.Add(signer.KeyID(), signer.PublicKey())
	verifier := token.NewVerifier(keys)

	now := time.Now()
	raw, err := signer.Sign(token.Claims{
		Subject:   "acc-1",
		Namespace: "brave-otter-lamp",
		Type:      "user",
		Roles:     []string{"developer"},
		IssuedAt:  now,
		ExpiresAt: now.Add(15 * time.Minute),
		ID:        token.NewID(),
	})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(raw)
	fmt.Println(claims.Namespace, claims.HasRole("developer"), err)
	// Output: brave-otter-lamp true <nil>
}
