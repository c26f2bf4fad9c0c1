package auth

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

const (
	// minSecret and maxSecret bound a secret's length in bytes.
	minSecret = 8
	maxSecret = 1024
	saltLen   = 16
	hashLen   = 32
)

var errBadHash = errors.New("malformed secret hash")

// weakList is the commonest passwords, one a line; lines starting with #
// are comments.
//
//go:embed weak_passwords.txt
var weakList string

// weakPasswords returns weakList as a set, built on first use: every run
// of the micro binary initialises this package, and only a server checks
// secrets.
var weakPasswords = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	for _, line := range strings.Split(weakList, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			set[line] = true
		}
	}
	return set
})

// CheckNewSecret is the one rule for every secret an account is given: at
// creation, when it changes, for the bootstrap admin, and at sign-up. It
// returns what is wrong with secret, as the end of a sentence about the
// field, or nil. Besides the length, it refuses a secret of nothing but
// white space and, compared lower-cased, the commonest passwords.
func CheckNewSecret(secret string) error {
	switch {
	case len(secret) < minSecret:
		return fmt.Errorf("must be at least %d bytes", minSecret)
	case len(secret) > maxSecret:
		return fmt.Errorf("must be at most %d bytes", maxSecret)
	case strings.TrimSpace(secret) == "":
		return errors.New("must not be only white space")
	case weakPasswords()[strings.ToLower(secret)]:
		return errors.New("is one of the commonest passwords; choose one that is not")
	}
	return nil
}

// hasher hashes and checks secrets with argon2id. Hashes are kept in the
// PHC string format, which carries their parameters, so raising the cost
// later still verifies older hashes.
type hasher struct {
	params HashParams
	// dummy is checked against when the account does not exist, so that an
	// unknown name costs the same work as a wrong secret.
	dummy string
	// slots bounds concurrent hashing, each of which holds MemoryKiB.
	slots chan struct{}
}

func newHasher(p HashParams) (*hasher, error) {
	h := &hasher{params: p, slots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	dummy, err := h.hash(rand.Text())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// hash returns the PHC string of secret under a fresh salt.
func (h *hasher) hash(secret string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	sum := h.key(secret, salt, h.params, hashLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.MemoryKiB, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// verify reports whether secret matches encoded. An empty encoded is
// checked against the dummy hash and never matches.
func (h *hasher) verify(encoded, secret string) bool {
	if encoded == "" {
		h.verify(h.dummy, secret)
		return false
	}
	p, salt, want, err := parseHash(encoded)
	if err != nil {
		return false
	}
	got := h.key(secret, salt, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func (h *hasher) key(secret string, salt []byte, p HashParams, n uint32) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, n)
}

// parseHash reads "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
func parseHash(encoded string) (HashParams, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return HashParams{}, nil, nil, errBadHash
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return HashParams{}, nil, nil, fmt.Errorf("%w: %w", errBadHash, err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return HashParams{}, nil, nil, fmt.Errorf("%w: %w", errBadHash, err)
	}
	sum, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(sum) == 0 {
		return HashParams{}, nil, nil, errBadHash
	}
	return p, salt, sum, nil
}
