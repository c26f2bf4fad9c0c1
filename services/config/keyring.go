package config

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"m3o.dev/pkg/lazyregexp"
)

// KeySize is the size of a config encryption key: AES-256.
const KeySize = 32

// kidPattern keeps key ids short and printable, since each sealed secret
// carries one.
var kidPattern = lazyregexp.New(`^[A-Za-z0-9._-]{1,64}$`)

// Keyring holds the platform's config encryption keys by key id. New secrets
// are sealed under the primary key; a secret sealed under any key the ring
// still holds can be opened, which is what lets keys rotate: add a new key,
// make it primary, and keep the old one for as long as values sealed under it
// may exist.
//
// A Keyring is immutable and safe for concurrent use. It never prints its
// keys: String, GoString and LogValue show only the key ids.
type Keyring struct {
	primary string
	keys    map[string][]byte
}

// keyringFile is the JSON form of a keyring file:
//
//	{"primary": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "<base64 of 32 bytes>"}}
//
// with the standard base64 alphabet, padded.
type keyringFile struct {
	Primary string            `json:"primary"`
	Keys    map[string][]byte `json:"keys"`
}

// NewKeyring returns a keyring of the given keys, sealing under primary. Each
// key must be KeySize bytes and each key id match [A-Za-z0-9._-]{1,64}.
func NewKeyring(primary string, keys map[string][]byte) (*Keyring, error) {
	if _, ok := keys[primary]; !ok {
		return nil, fmt.Errorf("primary key id %q is not among the keys: %w", primary, ErrBadKeyring)
	}
	ring := &Keyring{primary: primary, keys: make(map[string][]byte, len(keys))}
	for kid, key := range keys {
		if !kidPattern.MatchString(kid) {
			return nil, fmt.Errorf("key id %q does not match %s: %w", kid, kidPattern, ErrBadKeyring)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("key %q is %d bytes, want %d: %w", kid, len(key), KeySize, ErrBadKeyring)
		}
		ring.keys[kid] = bytes.Clone(key)
	}
	return ring, nil
}

// GenerateKeyring returns a keyring holding one new random key, for a
// platform's first start.
func GenerateKeyring() (*Keyring, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	kid := KeyID(key)
	return NewKeyring(kid, map[string][]byte{kid: key})
}

// KeyID derives a key id from a key: 16 hex digits of its SHA-256. It names
// a key given bare, without an id, the same way on every start.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// ParseKeyring parses a keyring: either the JSON keyring file format (see
// Keyring.MarshalJSON), or one bare key as standard base64, whose id is then
// KeyID(key). Surrounding white space is ignored.
func ParseKeyring(data []byte) (*Keyring, error) {
	data = bytes.TrimSpace(data)
	if !bytes.HasPrefix(data, []byte("{")) {
		key, err := base64.StdEncoding.DecodeString(string(data))
		if err != nil {
			// The decoder's message would quote part of the key.
			return nil, fmt.Errorf("neither a JSON keyring nor one base64 key: %w", ErrBadKeyring)
		}
		return NewKeyring(KeyID(key), map[string][]byte{KeyID(key): key})
	}
	var f keyringFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		// Decode errors name positions and types, never the key bytes.
		return nil, fmt.Errorf("parse keyring: %v: %w", err, ErrBadKeyring)
	}
	return NewKeyring(f.Primary, f.Keys)
}

// LoadKeyring reads a keyring from a file in either form ParseKeyring takes.
func LoadKeyring(file string) (*Keyring, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	ring, err := ParseKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("load keyring %s: %w", file, err)
	}
	return ring, nil
}

// WriteFile writes the keyring to file in the JSON keyring format, readable
// only by its owner.
func (k *Keyring) WriteFile(file string) error {
	data, err := k.MarshalJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	return nil
}

// MarshalJSON encodes the keyring in the keyring file format, keys included:
// it is for writing the file and nothing else.
func (k *Keyring) MarshalJSON() ([]byte, error) {
	return json.Marshal(keyringFile{Primary: k.primary, Keys: k.keys})
}

// With returns a keyring that also holds key under kid and seals new secrets
// under it: the first step of a key rotation.
func (k *Keyring) With(kid string, key []byte) (*Keyring, error) {
	keys := maps.Clone(k.keys)
	keys[kid] = key
	return NewKeyring(kid, keys)
}

// Primary returns the id of the key new secrets are sealed under.
func (k *Keyring) Primary() string { return k.primary }

// KeyIDs returns the ids of every key held, sorted.
func (k *Keyring) KeyIDs() []string { return slices.Sorted(maps.Keys(k.keys)) }

// String describes the keyring by its key ids alone.
func (k *Keyring) String() string {
	return fmt.Sprintf("keyring(primary=%s, keys=%s)", k.primary, strings.Join(k.KeyIDs(), ","))
}

// GoString keeps %#v from printing the keys.
func (k *Keyring) GoString() string { return k.String() }

// LogValue keeps slog from printing the keys.
func (k *Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", k.primary), slog.Any("keys", k.KeyIDs()))
}
