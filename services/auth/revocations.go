package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"m3o.dev/pkg/token"
	"m3o.dev/services/internal/storeclient"
)

// errRevoked is what the revocation check returns for a revoked token.
var errRevoked = errors.New("account's tokens were revoked")

// revocation records that an account's access tokens issued before Before
// are refused.
type revocation struct {
	Namespace string    `json:"namespace"`
	Before    time.Time `json:"before"`
}

// revocations keeps revoked_before for every account revoked within
// MaxAccessTTL, which is as long as a token issued before could live. The
// map is a cache of the revoked table, reloaded every RefreshInterval and
// updated at once by revocations made here.
type revocations struct {
	kv  *storeclient.Client
	now func() time.Time

	mu     sync.RWMutex
	before map[string]time.Time
}

func newRevocations(k *storeclient.Client, now func() time.Time) *revocations {
	return &revocations{kv: k, now: now, before: make(map[string]time.Time)}
}

// revokeTime is the revoked_before of a revocation made at t: the next whole
// second. Tokens carry iat in whole seconds, so every token issued up to t
// has an iat before it, and tokens issued afterwards are given an iat of at
// least it (see issueAt).
func revokeTime(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Second).UTC()
}

// record stores that a's tokens issued before `before` are refused.
func (r *revocations) record(ctx context.Context, a Account, before time.Time) error {
	ttl := before.Add(MaxAccessTTL + time.Minute).Sub(r.now())
	if _, err := r.kv.PutJSON(ctx, tableRevoked, a.ID, revocation{Namespace: a.Namespace, Before: before}, storeclient.WriteOptions{TTL: ttl}); err != nil {
		return fmt.Errorf("record revocation of %s: %w", a.ID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if before.After(r.before[a.ID]) {
		r.before[a.ID] = before
	}
	return nil
}

// load replaces the cache with the revoked table.
func (r *revocations) load(ctx context.Context) error {
	recs, err := r.kv.ScanAll(ctx, tableRevoked, "")
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	before := make(map[string]time.Time, len(recs))
	for _, rec := range recs {
		var rv revocation
		if err := storeclient.DecodeJSON(rec.Value, &rv); err != nil {
			return fmt.Errorf("revocation of %s: %w", rec.Key, err)
		}
		before[rec.Key] = rv.Before
	}
	// A revocation recorded here while the scan ran may be missing from
	// it; revocations only ever move later, so the newer of the two wins.
	cutoff := r.now().Add(-MaxAccessTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, t := range r.before {
		if t.After(before[id]) && t.After(cutoff) {
			before[id] = t
		}
	}
	r.before = before
	return nil
}

// check is the token.Verifier revocation check.
func (r *revocations) check(c token.Claims) error {
	r.mu.RLock()
	before, ok := r.before[c.Subject]
	r.mu.RUnlock()
	if ok && c.IssuedAt.Before(before) {
		return errRevoked
	}
	return nil
}

// snapshot returns the live revocations, for PublicKeys.
func (r *revocations) snapshot() map[string]time.Time {
	cutoff := r.now().Add(-MaxAccessTTL)
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := maps.Clone(r.before)
	maps.DeleteFunc(out, func(_ string, t time.Time) bool { return t.Before(cutoff) })
	return out
}
