package storeserver

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"m3o.dev/pkg/token"
)

// loadVerifier returns a verifier of tokens signed by any of the Ed25519
// public keys in file, PEM "PUBLIC KEY" blocks each known by the key id
// token.KeyID derives from it; nil when file is empty.
func loadVerifier(file string) (*token.Verifier, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read public keys: %w", err)
	}
	keys, err := parsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("public keys in %s: %w", file, err)
	}
	ks := token.NewKeySet()
	for _, k := range keys {
		ks.Add(token.KeyID(k), k)
	}
	return token.NewVerifier(ks), nil
}

// parsePublicKeys parses the PEM "PUBLIC KEY" blocks of data, which must
// all hold Ed25519 keys; other block types are skipped.
func parsePublicKeys(data []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key is %T, want Ed25519", pub)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM PUBLIC KEY block")
	}
	return keys, nil
}
