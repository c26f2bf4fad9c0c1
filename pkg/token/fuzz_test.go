package token_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"m3o.dev/pkg/token"
)

// fuzzKey is fixed so that the valid tokens in testdata/fuzz keep verifying.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

const fuzzKid = "fuzz-key"

// fuzzNow lies inside the validity of the valid seed tokens.
var fuzzNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// FuzzParseToken feeds arbitrary strings to Verify. It must never panic,
// every refusal must wrap ErrInvalid, and anything accepted must carry a
// valid Ed25519 signature by the one trusted key.
func FuzzParseToken(f *testing.F) {
	signer := token.NewSigner(fuzzKid, fuzzKey)
	c := token.Claims{Subject: "acc-1", Namespace: "micro", Roles: []string{"admin"}, ExpiresAt: fuzzNow.Add(time.Hour)}
	valid, err := signer.Sign(c)
	if err != nil {
		f.Fatalf("Sign() = %v", err)
	}
	f.Add(valid)
	ks := token.NewKeySet()
	ks.Add(fuzzKid, signer.PublicKey())
	v := token.NewVerifier(ks, token.WithClock(func() time.Time { return fuzzNow }), token.WithCacheSize(64))
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := v.Verify(raw)
		if err != nil {
			if !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("Verify(%q) = %v, want an error wrapping ErrInvalid", raw, err)
			}
			return
		}
		if !signedBy(signer.PublicKey(), raw) {
			t.Fatalf("Verify(%q) accepted a token the trusted key did not sign", raw)
		}
		if !fuzzNow.Before(got.ExpiresAt) {
			t.Fatalf("Verify(%q) accepted a token expiring at %v", raw, got.ExpiresAt)
		}
	})
}

// signedBy checks a compact JWT's signature independently of the package
// under test.
func signedBy(pub ed25519.PublicKey, raw string) bool {
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(raw[i+1:])
	return err == nil && ed25519.Verify(pub, []byte(raw[:i]), sig)
}
