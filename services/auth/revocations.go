package auth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"m3o.dev/pkg/token"
	"m3o.dev/services/internal/storeclient"
)

// Reasons the revocation check refuses a token.
var (
	errRevoked        = errors.New("account's tokens were revoked")
	errSessionRevoked = errors.New("session was revoked")
)

// revocation records that an account's access tokens issued before Before
// are refused.
type revocation struct {
	Namespace string    `json:"namespace"`
	Before    time.Time `json:"before"`
}

// sessionRevocation records that the access tokens of one login, its
// refresh token family, are refused until Until, when the last of them
// expires.
type sessionRevocation struct {
	Namespace string    `json:"namespace"`
	AccountID string    `json:"account_id"`
	Until     time.Time `json:"until"`
}

// revocations keeps revoked_before for every account revoked within
// MaxAccessTTL, which is as long as a token issued before could live, and
// the sessions revoked while their access tokens live. The maps are a
// cache of the revoked and revoked_sessions tables, reloaded when any
// replica changes them and updated at once by revocations made here.
type revocations struct {
	kv  *storeclient.Client
	now func() time.Time

	mu       sync.RWMutex
	before   map[string]time.Time
	sessions map[string]time.Time // session id → until
}

func newRevocations(k *storeclient.Client, now func() time.Time) *revocations {
	return &revocations{kv: k, now: now, before: make(map[string]time.Time), sessions: make(map[string]time.Time)}
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

// recordSession stores that the access tokens of session sid, which live
// until until, are refused.
func (r *revocations) recordSession(ctx context.Context, sid string, rec sessionRevocation) error {
	ttl := rec.Until.Add(time.Minute).Sub(r.now())
	if ttl <= time.Minute {
		return nil // every token of the session has expired
	}
	if _, err := r.kv.PutJSON(ctx, tableRevokedSessions, sid, rec, storeclient.WriteOptions{TTL: ttl}); err != nil {
		return fmt.Errorf("record revocation of a session of %s: %w", rec.AccountID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions[sid] = rec.Until
	return nil
}

// load replaces the cache with the revoked and revoked_sessions tables.
func (r *revocations) load(ctx context.Context) error {
	before, err := r.loadAccounts(ctx)
	if err != nil {
		return err
	}
	sessions, err := r.loadSessions(ctx)
	if err != nil {
		return err
	}
	// A revocation recorded here while the scans ran may be missing from
	// them; revocations only ever move later, so the newer of the two wins.
	now := r.now()
	cutoff := now.Add(-MaxAccessTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, t := range r.before {
		if t.After(before[id]) && t.After(cutoff) {
			before[id] = t
		}
	}
	for sid, until := range r.sessions {
		if until.After(now) {
			sessions[sid] = until
		}
	}
	r.before, r.sessions = before, sessions
	return nil
}

// loadAccounts reads the revoked table.
func (r *revocations) loadAccounts(ctx context.Context) (map[string]time.Time, error) {
	recs, err := r.kv.ScanAll(ctx, tableRevoked, "")
	if err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	before := make(map[string]time.Time, len(recs))
	for _, rec := range recs {
		var rv revocation
		if err := storeclient.DecodeJSON(rec.Value, &rv); err != nil {
			return nil, fmt.Errorf("revocation of %s: %w", rec.Key, err)
		}
		before[rec.Key] = rv.Before
	}
	return before, nil
}

// loadSessions reads the revoked_sessions table.
func (r *revocations) loadSessions(ctx context.Context) (map[string]time.Time, error) {
	recs, err := r.kv.ScanAll(ctx, tableRevokedSessions, "")
	if err != nil {
		return nil, fmt.Errorf("load revoked sessions: %w", err)
	}
	sessions := make(map[string]time.Time, len(recs))
	for _, rec := range recs {
		var sr sessionRevocation
		if err := storeclient.DecodeJSON(rec.Value, &sr); err != nil {
			return nil, fmt.Errorf("revoked session %s: %w", rec.Key, err)
		}
		sessions[rec.Key] = sr.Until
	}
	return sessions, nil
}

// check is the token.Verifier revocation check.
func (r *revocations) check(c token.Claims) error {
	r.mu.RLock()
	before, ok := r.before[c.Subject]
	_, sessionRevoked := r.sessions[c.SessionID]
	r.mu.RUnlock()
	if ok && c.IssuedAt.Before(before) {
		return errRevoked
	}
	if sessionRevoked && c.SessionID != "" {
		return errSessionRevoked
	}
	return nil
}

// snapshot returns the live revocations, for PublicKeys: revoked_before
// by account id, and the revoked sessions, sorted.
func (r *revocations) snapshot() (map[string]time.Time, []string) {
	now := r.now()
	cutoff := now.Add(-MaxAccessTTL)
	r.mu.RLock()
	defer r.mu.RUnlock()
	before := maps.Clone(r.before)
	maps.DeleteFunc(before, func(_ string, t time.Time) bool { return t.Before(cutoff) })
	var sessions []string
	for sid, until := range r.sessions {
		if until.After(now) {
			sessions = append(sessions, sid)
		}
	}
	slices.Sort(sessions)
	return before, sessions
}
