package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// KeyEncryptionKeySize is the size of a key-encryption key: AES-256.
const KeyEncryptionKeySize = 32

// ErrBadKeyEncryptionKey is wrapped by every error about a key-encryption
// key that cannot be used: malformed, unreadable, exposed, or not the one
// the signing keys were sealed under.
var ErrBadKeyEncryptionKey = errors.New("unusable key-encryption key")

// KeyEncryptionKey seals the private halves of the token signing keys
// before they reach the store, with AES-256-GCM, so that a copy of the
// store alone forges no token. It lives outside the store: in a file only
// its owner reads, or in the environment of a production deployment.
//
// It is safe for concurrent use and never prints itself: String, GoString
// and LogValue show only its id.
type KeyEncryptionKey struct {
	id   string
	aead cipher.AEAD
}

// NewKeyEncryptionKey returns the key-encryption key of 32 key bytes.
func NewKeyEncryptionKey(key []byte) (*KeyEncryptionKey, error) {
	if len(key) != KeyEncryptionKeySize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d: %w", len(key), KeyEncryptionKeySize, ErrBadKeyEncryptionKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	sum := sha256.Sum256(key)
	return &KeyEncryptionKey{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ParseKeyEncryptionKey parses a key-encryption key written as standard
// base64 of its 32 bytes, as `openssl rand -base64 32` prints one.
// Surrounding white space is ignored.
func ParseKeyEncryptionKey(text []byte) (*KeyEncryptionKey, error) {
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil {
		// The decoder's message would quote part of the key.
		return nil, fmt.Errorf("key-encryption key is not base64: %w", ErrBadKeyEncryptionKey)
	}
	return NewKeyEncryptionKey(key)
}

// LoadKeyEncryptionKey reads a key-encryption key from file. A file that
// every user of the machine may read or write is refused: the key is what
// keeps the signing keys secret.
func LoadKeyEncryptionKey(file string) (*KeyEncryptionKey, error) {
	info, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file: %w", err)
	}
	if info.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("key-encryption key file %s is open to every user (mode %04o); make it readable by its owner only (chmod 600): %w",
			file, info.Mode().Perm(), ErrBadKeyEncryptionKey)
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file: %w", err)
	}
	k, err := ParseKeyEncryptionKey(text)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key file %s: %w", file, err)
	}
	return k, nil
}

// LoadOrCreateKeyEncryptionKey reads the key-encryption key in file, or, on
// a platform's first start, generates one and writes it there with mode
// 0600. An existing file is never overwritten.
func LoadOrCreateKeyEncryptionKey(file string) (*KeyEncryptionKey, error) {
	k, err := LoadKeyEncryptionKey(file)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	key := make([]byte, KeyEncryptionKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	if err := writeNewFile(file, base64.StdEncoding.EncodeToString(key)+"\n"); err != nil {
		return nil, fmt.Errorf("key-encryption key file: %w", err)
	}
	return NewKeyEncryptionKey(key)
}

// writeNewFile creates file with mode 0600 and writes text to it; it fails
// when file exists.
func writeNewFile(file, text string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ID names the key without revealing it: 16 hex digits of its SHA-256. A
// sealed signing key records it, so that the wrong key is named as such.
func (k *KeyEncryptionKey) ID() string { return k.id }

// String describes the key by its id alone.
func (k *KeyEncryptionKey) String() string { return "key-encryption key " + k.id }

// GoString keeps %#v from printing the key.
func (k *KeyEncryptionKey) GoString() string { return k.String() }

// LogValue keeps slog from printing the key.
func (k *KeyEncryptionKey) LogValue() slog.Value { return slog.StringValue(k.id) }

// sealAAD binds a sealed seed to the signing key's id: moving ciphertext to
// another key's record makes it fail to open.
func sealAAD(kid string) []byte { return []byte("m3o auth signing key " + kid) }

// seal encrypts the seed of signing key kid: a random nonce, then the
// ciphertext and tag.
func (k *KeyEncryptionKey) seal(kid string, seed []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(seed)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal signing key %s: %w", kid, err)
	}
	return k.aead.Seal(nonce, nonce, seed, sealAAD(kid)), nil
}

// open decrypts what seal returned for signing key kid.
func (k *KeyEncryptionKey) open(kid string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, fmt.Errorf("sealed signing key %s is too short: %w", kid, ErrBadKeyEncryptionKey)
	}
	seed, err := k.aead.Open(nil, sealed[:n], sealed[n:], sealAAD(kid))
	if err != nil {
		return nil, fmt.Errorf("signing key %s does not open under %s; it was altered or moved: %w", kid, k, ErrBadKeyEncryptionKey)
	}
	return seed, nil
}
