package config

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
)

// A sealed secret is stored as
//
//	{"$secret": {"kid": "<key id>", "nonce": "<base64>", "data": "<base64>"}}
//
// where data is the AES-256-GCM encryption of the value's JSON under the key
// kid, with a random 96-bit nonce per value. The additional data binds the
// ciphertext to its namespace and key id, so a sealed value copied into
// another namespace's document does not open.

// sealer seals and opens the secrets of one namespace.
type sealer struct {
	ring      *Keyring
	namespace string
}

// aad is the additional authenticated data for a value sealed under kid.
func (s sealer) aad(kid string) []byte {
	return []byte("m3o.config.v1/" + s.namespace + "/" + kid)
}

// aead returns the AES-256-GCM cipher for the key kid.
func (s sealer) aead(kid string) (cipher.AEAD, error) {
	key, ok := s.ring.keys[kid]
	if !ok {
		return nil, fmt.Errorf("key id %q: %w", kid, ErrUnknownKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key id %q: %w", kid, err)
	}
	return cipher.NewGCM(block)
}

// sealLeaves returns v with every value that is not an object sealed. Objects
// stay objects, so a secret object still merges key by key and its keys stay
// addressable; only the values are secret.
func (s sealer) sealLeaves(v any) (any, error) {
	obj, ok := object(v)
	if !ok {
		return s.seal(v)
	}
	out := make(map[string]any, len(obj))
	for k, child := range obj {
		sealed, err := s.sealLeaves(child)
		if err != nil {
			return nil, err
		}
		out[k] = sealed
	}
	return out, nil
}

// seal encrypts one value under the primary key.
func (s sealer) seal(v any) (map[string]any, error) {
	plain, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	kid := s.ring.primary
	aead, err := s.aead(kid)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	data := aead.Seal(nil, nonce, plain, s.aad(kid))
	return map[string]any{secretKey: map[string]any{
		"kid":   kid,
		"nonce": base64.StdEncoding.EncodeToString(nonce),
		"data":  base64.StdEncoding.EncodeToString(data),
	}}, nil
}

// open decrypts one sealed value.
func (s sealer) open(sealed map[string]any) (any, error) {
	fields, _ := sealed[secretKey].(map[string]any)
	kid, _ := fields["kid"].(string)
	nonce, nerr := decodeField(fields, "nonce")
	data, derr := decodeField(fields, "data")
	if kid == "" || nerr != nil || derr != nil {
		return nil, fmt.Errorf("open secret: malformed sealed value with fields %v", slices.Sorted(maps.Keys(fields)))
	}
	aead, err := s.aead(kid)
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", err)
	}
	if len(nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("open secret: nonce of %d bytes under key id %q", len(nonce), kid)
	}
	plain, err := aead.Open(nil, nonce, data, s.aad(kid))
	if err != nil {
		return nil, fmt.Errorf("open secret under key id %q: %w", kid, err)
	}
	v, err := decodeJSON(plain)
	if err != nil {
		// The decoder's message may quote part of the plaintext.
		return nil, fmt.Errorf("open secret under key id %q: the plaintext is not JSON", kid)
	}
	return v, nil
}

// reveal returns a copy of v with every secret opened.
func (s sealer) reveal(v any) (any, error) {
	return transformSealed(v, s.open)
}

// decodeField decodes a base64 field of a sealed value.
func decodeField(fields map[string]any, name string) ([]byte, error) {
	text, ok := fields[name].(string)
	if !ok {
		return nil, fmt.Errorf("field %q missing", name)
	}
	return base64.StdEncoding.DecodeString(text)
}
