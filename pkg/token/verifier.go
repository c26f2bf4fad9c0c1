package token

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Size limits checked before any decoding, so that a hostile token costs
// almost nothing to refuse. A real access token is well under 1 KiB.
const (
	// MaxHeaderSize bounds the encoded header segment.
	MaxHeaderSize = 8 << 10
	// MaxTokenSize bounds the whole encoded token.
	MaxTokenSize = 16 << 10
)

// Defaults for a Verifier.
const (
	// DefaultSkew is how far ahead of the local clock nbf and iat may be,
	// to allow for clocks that disagree a little.
	DefaultSkew = 30 * time.Second
	// DefaultCacheSize bounds how many verified tokens are remembered.
	DefaultCacheSize = 10000
)

// ErrInvalid is wrapped by every error Verify returns about the token, so
// that callers map all of them to Unauthenticated with one errors.Is.
var ErrInvalid = errors.New("invalid token")

// ErrNotReady is what Verify returns, instead of judging the token, while
// the verifier's keys have not been loaded yet (see WithReady): the token
// may well be good, and the caller should try again.
var ErrNotReady = errors.New("verification keys not loaded yet")

// Verifier verifies access tokens against a KeySet. It is safe for
// concurrent use.
type Verifier struct {
	keys      *KeySet
	now       func() time.Time
	skew      time.Duration
	revoked   func(Claims) error
	ready     func() error
	cacheSize int
	cache     *cache
	parser    *jwt.Parser
}

// VerifierOption configures a Verifier.
type VerifierOption func(*Verifier)

// WithClock sets the clock that expiry is checked against.
func WithClock(now func() time.Time) VerifierOption {
	return func(v *Verifier) { v.now = now }
}

// WithSkew sets how far in the future nbf and iat may be; the default is
// DefaultSkew. Expiry gets no grace: a token is dead at exp.
func WithSkew(d time.Duration) VerifierOption {
	return func(v *Verifier) { v.skew = d }
}

// WithRevocationCheck sets a check that Verify consults for every token,
// including one it found in its cache. When check returns an error, Verify
// fails with an error that wraps both it and ErrInvalid.
func WithRevocationCheck(check func(Claims) error) VerifierOption {
	return func(v *Verifier) { v.revoked = check }
}

// WithReady sets a check that says whether the KeySet holds the keys yet,
// such as authkeys' Ready: until it returns nil, Verify judges no token and
// returns an error wrapping ErrNotReady.
func WithReady(ready func() error) VerifierOption {
	return func(v *Verifier) { v.ready = ready }
}

// WithCacheSize bounds the cache of verified tokens; zero turns it off. The
// default is DefaultCacheSize.
func WithCacheSize(n int) VerifierOption {
	return func(v *Verifier) { v.cacheSize = n }
}

// NewVerifier returns a Verifier that trusts the keys in ks, as ks is at the
// time of each call.
func NewVerifier(ks *KeySet, opts ...VerifierOption) *Verifier {
	v := &Verifier{keys: ks, now: time.Now, skew: DefaultSkew, cacheSize: DefaultCacheSize}
	for _, o := range opts {
		o(v)
	}
	if v.cacheSize > 0 {
		v.cache = newCache(v.cacheSize)
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		// Time claims are checked by checkTimes, against our own clock,
		// with skew for nbf and iat only.
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
	return v
}

// Verify checks raw and returns its claims. The token must be a compact JWT
// of exactly three segments within the size limits, signed with EdDSA by a
// key in the KeySet and named by its kid header, carry an exp in the future,
// and have nbf and iat no further ahead than the skew. Every error wraps
// ErrInvalid, but for ErrNotReady before the keys are loaded.
func (v *Verifier) Verify(raw string) (Claims, error) {
	if v.ready != nil {
		if err := v.ready(); err != nil {
			return Claims{}, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
	}
	if err := checkShape(raw); err != nil {
		return Claims{}, err
	}
	now := v.now()
	// The generation is read before the key is looked up, so that a key
	// removed while we verify leaves a cache entry that is already stale.
	gen := v.keys.generation()
	c, ok := v.cache.get(raw, gen, now)
	if !ok {
		var err error
		if c, err = v.verifySigned(raw, now); err != nil {
			return Claims{}, err
		}
		v.cache.put(raw, c, gen, now)
	}
	// The caller gets its own copy, so nothing it does reaches the cache.
	out := c.clone()
	if v.revoked != nil {
		if err := v.revoked(out); err != nil {
			return Claims{}, fmt.Errorf("revoked (%w): %w", err, ErrInvalid)
		}
	}
	return out, nil
}

// checkShape refuses oversized and misshapen tokens before any decoding.
func checkShape(raw string) error {
	if len(raw) > MaxTokenSize {
		return fmt.Errorf("token of %d bytes exceeds %d: %w", len(raw), MaxTokenSize, ErrInvalid)
	}
	if strings.Count(raw, ".") != 2 {
		return fmt.Errorf("token must have three segments: %w", ErrInvalid)
	}
	if i := strings.IndexByte(raw, '.'); i > MaxHeaderSize {
		return fmt.Errorf("header of %d bytes exceeds %d: %w", i, MaxHeaderSize, ErrInvalid)
	}
	return nil
}

// verifySigned parses raw, checks its signature, and checks its times
// against now.
func (v *Verifier) verifySigned(raw string, now time.Time) (Claims, error) {
	var w wireClaims
	if _, err := v.parser.ParseWithClaims(raw, &w, v.key); err != nil {
		return Claims{}, fmt.Errorf("%v: %w", err, ErrInvalid)
	}
	c := fromWire(&w)
	if err := v.checkTimes(c, now); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// key finds the verification key named by the token's kid header.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
		return nil, fmt.Errorf("signing method %v is not EdDSA", t.Header["alg"])
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errors.New("kid header missing or not a string")
	}
	pub, ok := v.keys.get(kid)
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return pub, nil
}

// checkTimes enforces exp strictly and nbf and iat with skew.
func (v *Verifier) checkTimes(c Claims, now time.Time) error {
	switch {
	case c.ExpiresAt.IsZero():
		return fmt.Errorf("no exp claim: %w", ErrInvalid)
	case !now.Before(c.ExpiresAt):
		return fmt.Errorf("expired at %s: %w", c.ExpiresAt.Format(time.RFC3339), ErrInvalid)
	case c.NotBefore.After(now.Add(v.skew)):
		return fmt.Errorf("not valid before %s: %w", c.NotBefore.Format(time.RFC3339), ErrInvalid)
	case c.IssuedAt.After(now.Add(v.skew)):
		return fmt.Errorf("issued in the future at %s: %w", c.IssuedAt.Format(time.RFC3339), ErrInvalid)
	}
	return nil
}
