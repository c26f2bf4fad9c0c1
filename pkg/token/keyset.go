package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
)

// GenerateKey creates an Ed25519 key pair and its key id.
func GenerateKey() (kid string, priv ed25519.PrivateKey, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("generate key: %w", err)
	}
	return KeyID(pub), priv, nil
}

// KeyID derives a key id from a public key: the first 96 bits of its
// SHA-256, base64url-encoded. Deriving it means two services can never
// disagree on which id a key has.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// KeySet holds the public keys that tokens may be signed with, by key id.
// Several keys are valid at once while keys rotate. It is safe for
// concurrent use.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]ed25519.PublicKey
	// gen changes whenever a key is removed or replaced, which tells a
	// Verifier that tokens it verified earlier must be checked again.
	gen atomic.Uint64
}

// NewKeySet returns an empty key set.
func NewKeySet() *KeySet {
	return &KeySet{keys: make(map[string]ed25519.PublicKey)}
}

// Add adds the public key pub under kid. Adding a different key under a
// kid already present replaces it.
func (ks *KeySet) Add(kid string, pub ed25519.PublicKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if old, ok := ks.keys[kid]; ok && !bytes.Equal(old, pub) {
		ks.gen.Add(1)
	}
	ks.keys[kid] = slices.Clone(pub)
}

// Remove removes the key kid. Tokens it signed stop verifying at once, even
// those a Verifier has cached.
func (ks *KeySet) Remove(kid string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if _, ok := ks.keys[kid]; ok {
		delete(ks.keys, kid)
		ks.gen.Add(1)
	}
}

// Replace makes keys the whole set, as after fetching the current public
// keys from the auth service.
func (ks *KeySet) Replace(keys map[string]ed25519.PublicKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for kid, old := range ks.keys {
		if pub, ok := keys[kid]; !ok || !bytes.Equal(old, pub) {
			ks.gen.Add(1)
			break
		}
	}
	ks.keys = make(map[string]ed25519.PublicKey, len(keys))
	for kid, pub := range keys {
		ks.keys[kid] = slices.Clone(pub)
	}
}

// Keys returns a copy of the set.
func (ks *KeySet) Keys() map[string]ed25519.PublicKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	out := maps.Clone(ks.keys)
	for kid, pub := range out {
		out[kid] = slices.Clone(pub)
	}
	return out
}

// get returns the key kid.
func (ks *KeySet) get(kid string) (ed25519.PublicKey, bool) {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	pub, ok := ks.keys[kid]
	return pub, ok
}

// generation returns a number that changes whenever a key is removed or
// replaced.
func (ks *KeySet) generation() uint64 {
	return ks.gen.Load()
}
