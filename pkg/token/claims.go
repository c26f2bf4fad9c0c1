package token

import (
	"crypto/rand"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is what an access token says about its bearer. On the wire the
// fields are the JSON claims sub, ns, typ, roles, sid, iat, exp, nbf and
// jti;
// times are whole seconds since the Unix epoch, so they lose any fraction
// of a second in a round trip.
type Claims struct {
	// Subject is the account id (sub).
	Subject string
	// Namespace is the namespace the bearer acts in (ns).
	Namespace string
	// Type is the account type, "user" or "service" (typ).
	Type string
	// Roles are the account's roles, such as "admin" or "developer" (roles).
	Roles []string
	// SessionID names the login the token belongs to (sid): every token
	// refreshed from one login shares it, so that a logout can revoke them
	// all. Empty for tokens of no login.
	SessionID string
	// IssuedAt is when the token was signed (iat).
	IssuedAt time.Time
	// ExpiresAt is when the token stops being valid (exp); it is required.
	ExpiresAt time.Time
	// NotBefore is when the token starts being valid (nbf); zero means at
	// once.
	NotBefore time.Time
	// ID identifies this one token (jti), for revocation and audit.
	ID string
}

// HasRole reports whether the claims grant role r.
func (c Claims) HasRole(r string) bool {
	return slices.Contains(c.Roles, r)
}

// NewID returns a random token id with 128 bits of entropy, for Claims.ID.
func NewID() string {
	return rand.Text()
}

// wireClaims is the JSON form of Claims. Embedding jwt.RegisteredClaims
// gives it the registered claim names and the jwt.Claims interface.
type wireClaims struct {
	Namespace string   `json:"ns,omitempty"`
	Type      string   `json:"typ,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// toWire converts claims to their JSON form, leaving zero times out.
func toWire(c Claims) *wireClaims {
	return &wireClaims{
		Namespace: c.Namespace,
		Type:      c.Type,
		Roles:     c.Roles,
		SessionID: c.SessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   c.Subject,
			ID:        c.ID,
			IssuedAt:  numericDate(c.IssuedAt),
			ExpiresAt: numericDate(c.ExpiresAt),
			NotBefore: numericDate(c.NotBefore),
		},
	}
}

// fromWire converts decoded JSON claims back, with times in UTC so that
// claims compare equal whatever the local time zone.
func fromWire(w *wireClaims) Claims {
	return Claims{
		Subject:   w.Subject,
		Namespace: w.Namespace,
		Type:      w.Type,
		Roles:     w.Roles,
		SessionID: w.SessionID,
		IssuedAt:  timeOf(w.IssuedAt),
		ExpiresAt: timeOf(w.ExpiresAt),
		NotBefore: timeOf(w.NotBefore),
		ID:        w.ID,
	}
}

func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.UTC()
}

// clone returns a copy that shares no memory with c, so that a caller
// changing the roles it got cannot change what the cache holds.
func (c Claims) clone() Claims {
	c.Roles = slices.Clone(c.Roles)
	return c
}
