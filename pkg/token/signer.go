package token

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Signer signs access tokens with one Ed25519 key. It is safe for concurrent
// use.
type Signer struct {
	kid  string
	priv ed25519.PrivateKey
}

// NewSigner returns a Signer that signs with priv and names the key kid in
// each token's header.
func NewSigner(kid string, priv ed25519.PrivateKey) *Signer {
	return &Signer{kid: kid, priv: priv}
}

// KeyID returns the id of the signing key.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey returns the public half of the signing key, for KeySet.Add.
func (s *Signer) PublicKey() ed25519.PublicKey {
	return s.priv.Public().(ed25519.PublicKey)
}

// Sign returns the signed compact JWT for c. Claims without an expiry are
// refused, because no Verifier would accept them.
func (s *Signer) Sign(c Claims) (string, error) {
	if c.ExpiresAt.IsZero() {
		return "", errors.New("sign: claims have no expiry")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, toWire(c))
	t.Header["kid"] = s.kid
	raw, err := t.SignedString(s.priv)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return raw, nil
}
