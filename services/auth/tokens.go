package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"m3o.dev/pkg/token"
	"m3o.dev/services/internal/storeclient"
)

// refreshRecord is a refresh token as kept in the refresh table, under the
// SHA-256 of the token. A plain hash suffices: the token is 256 random
// bits, which no dictionary holds.
type refreshRecord struct {
	Family    string    `json:"family"`
	ExpiresAt time.Time `json:"expires_at"`
}

// familyRecord is the chain of refresh tokens rotated from one login. Only
// Current may be exchanged; any other token of the family is a replay.
//
// The family's id is also the session id, the sid claim of every access
// token issued from it, so that revoking the family refuses those tokens
// too.
type familyRecord struct {
	AccountID string    `json:"account_id"`
	Namespace string    `json:"namespace"`
	Created   time.Time `json:"created"`
	Current   string    `json:"current"`
	Revoked   bool      `json:"revoked,omitempty"`
	// AccessUntil is when the last access token issued from the family
	// expires, which is how long a revocation of the session must last.
	AccessUntil time.Time `json:"access_until,omitzero"`
	id          string
	version     uint64
}

// limitKey is what failed logins are counted under: the namespace and the
// id or name as given, so that unknown accounts are limited exactly like
// known ones and the limit reveals nothing. A known account's failures are
// also counted under its id (see login).
func limitKey(namespace, ref string) string { return namespace + "\x00" + ref }

// login checks a secret and starts a token family. Whether the account is
// missing, disabled or the secret wrong, the answer is ErrBadCredentials,
// after the same argon2id work. Failures count against the account and
// the client address (see loginLimiter).
func (s *Service) login(ctx context.Context, namespace, ref, secret string, ttl time.Duration) (Issued, error) {
	addr := clientAddress(ctx)
	keys := []string{limitKey(namespace, ref)}
	if s.limiter.refused(keys[0], addr) {
		return Issued{}, ErrRateLimited
	}
	a, err := s.lookup(ctx, namespace, ref)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Issued{}, err
	}
	if err == nil && a.ID != ref {
		// Counting under the id too means that alternating between name
		// and id buys an attacker no extra tries. Only someone who already
		// knows the id can tell the two counts apart.
		keys = append(keys, limitKey(namespace, a.ID))
		if s.limiter.refused(keys[1], addr) {
			return Issued{}, ErrRateLimited
		}
	}
	// A missing account has no hash, which verify checks against the dummy.
	if ok := s.hasher.verify(a.SecretHash, secret); !ok || a.Disabled {
		s.limiter.fail(ctx, keys, addr, lockoutSubject(namespace, a)...)
		return Issued{}, ErrBadCredentials
	}
	s.limiter.succeed(keys)
	now := s.now()
	fam := familyRecord{AccountID: a.ID, Namespace: a.Namespace, Created: now, id: rand.Text()}
	return s.issue(ctx, a, fam, ttl, now)
}

// loginAnywhere logs in to namespace or, when it is empty, to where
// loginTarget finds the account.
func (s *Service) loginAnywhere(ctx context.Context, namespace, ref, secret string, ttl time.Duration) (Issued, error) {
	ns, target, err := s.loginTarget(ctx, namespace, ref)
	if err != nil {
		return Issued{}, err
	}
	return s.login(ctx, ns, target, secret, ttl)
}

// lockoutSubject describes, for a lock-out's log line, the account a login
// was for: its id when it exists, and never the name as typed, which may
// be a secret typed into the wrong field.
func lockoutSubject(namespace string, a storedAccount) []any {
	if a.ID == "" {
		return []any{"namespace", namespace, "account_known", false}
	}
	return []any{"namespace", namespace, "account_id", a.ID}
}

// refresh exchanges the current refresh token of a family for a new pair.
// Presenting any other token of the family revokes the family.
func (s *Service) refresh(ctx context.Context, raw string, ttl time.Duration) (Issued, error) {
	var out Issued
	err := storeclient.Update(ctx, func() error {
		var err error
		out, err = s.refreshOnce(ctx, raw, ttl)
		return err
	})
	return out, err
}

func (s *Service) refreshOnce(ctx context.Context, raw string, ttl time.Duration) (Issued, error) {
	now := s.now()
	fam, err := s.family(ctx, raw, now)
	if err != nil {
		return Issued{}, err
	}
	if fam.Current != hashToken(raw) {
		s.revokeSession(ctx, fam)
		s.logger.WarnContext(ctx, "rotated refresh token presented again; family revoked",
			"account_id", fam.AccountID, "namespace", fam.Namespace, "family", fam.id)
		return Issued{}, ErrBadCredentials
	}
	a, err := s.lookupID(ctx, fam.Namespace, fam.AccountID)
	// A login in the very instant of a revocation counts as before it.
	if errors.Is(err, ErrNotFound) || err == nil && (a.Disabled || !fam.Created.After(a.RefreshNotBefore)) {
		return Issued{}, ErrBadCredentials
	}
	if err != nil {
		return Issued{}, err
	}
	return s.issue(ctx, a, fam, ttl, now)
}

// family returns the live, unrevoked family of refresh token raw.
func (s *Service) family(ctx context.Context, raw string, now time.Time) (familyRecord, error) {
	var rr refreshRecord
	if _, err := s.kv.GetJSON(ctx, tableRefresh, hashToken(raw), &rr); err != nil {
		return familyRecord{}, credentialsError(err)
	}
	if !now.Before(rr.ExpiresAt) {
		return familyRecord{}, ErrBadCredentials
	}
	var fam familyRecord
	v, err := s.kv.GetJSON(ctx, tableFamilies, rr.Family, &fam)
	if err != nil {
		return familyRecord{}, credentialsError(err)
	}
	if fam.Revoked {
		return familyRecord{}, ErrBadCredentials
	}
	fam.id, fam.version = rr.Family, v
	return fam, nil
}

// credentialsError turns a missing record into ErrBadCredentials.
func credentialsError(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrBadCredentials
	}
	return err
}

// issue signs an access token for a and makes a new refresh token the
// current one of fam. Storing fam with compare-and-set is what makes a
// rotation happen once: of two exchanges of one token, one loses and, on
// retry, finds its token no longer current.
func (s *Service) issue(ctx context.Context, a storedAccount, fam familyRecord, ttl time.Duration, now time.Time) (Issued, error) {
	access, expiry, err := s.sign(a, fam.id, ttl, now)
	if err != nil {
		return Issued{}, err
	}
	raw, err := newRefreshToken()
	if err != nil {
		return Issued{}, err
	}
	hash := hashToken(raw)
	expires := now.Add(s.cfg.RefreshTTL)
	if _, err := s.kv.PutJSON(ctx, tableRefresh, hash, refreshRecord{Family: fam.id, ExpiresAt: expires}, storeclient.Create(s.cfg.RefreshTTL)); err != nil {
		return Issued{}, err
	}
	fam.Current = hash
	if expiry.After(fam.AccessUntil) {
		fam.AccessUntil = expiry
	}
	opts := storeclient.At(fam.version, s.cfg.RefreshTTL)
	if fam.version == 0 {
		opts = storeclient.Create(s.cfg.RefreshTTL)
	}
	if _, err := s.kv.PutJSON(ctx, tableFamilies, fam.id, fam, opts); err != nil {
		return Issued{}, err
	}
	return Issued{Account: a.Account, AccessToken: access, RefreshToken: raw, Expiry: expiry, Created: now}, nil
}

// sign returns an access token for a in session sid and its expiry. Its
// iat is at least the account's TokensNotBefore, so that a token issued in
// the same second as a revocation, but after it, is not refused with the
// older ones.
func (s *Service) sign(a storedAccount, sid string, ttl time.Duration, now time.Time) (string, time.Time, error) {
	signer, err := s.keys.Signer()
	if err != nil {
		return "", time.Time{}, err
	}
	iat := now
	if iat.Before(a.TokensNotBefore) {
		iat = a.TokensNotBefore
	}
	exp := now.Add(ttl).Truncate(time.Second)
	raw, err := signer.Sign(token.Claims{
		Subject: a.ID, Namespace: a.Namespace, Type: string(a.Type), Roles: a.Roles, SessionID: sid,
		IssuedAt: iat, ExpiresAt: exp, ID: token.NewID(),
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return raw, exp.UTC(), nil
}

// revokeFamily marks fam revoked. It is best effort on a path that already
// refuses: a failure is logged and the refusal stands.
func (s *Service) revokeFamily(ctx context.Context, fam familyRecord) {
	err := storeclient.Update(ctx, func() error {
		var cur familyRecord
		v, err := s.kv.GetJSON(ctx, tableFamilies, fam.id, &cur)
		if err != nil || cur.Revoked {
			return err
		}
		cur.Revoked = true
		_, err = s.kv.PutJSON(ctx, tableFamilies, fam.id, cur, storeclient.At(v, s.cfg.RefreshTTL))
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.logger.ErrorContext(ctx, "revoke refresh token family", "family", fam.id, "error", err)
	}
}

// revokeSession ends a login: it revokes its refresh token family and
// refuses the access tokens issued from it, here at once and, once the
// revocation is published, everywhere. It is best effort on a path that
// already refuses, like revokeFamily.
func (s *Service) revokeSession(ctx context.Context, fam familyRecord) {
	s.revokeFamily(ctx, fam)
	if err := s.recordSession(ctx, fam); err != nil {
		s.logger.ErrorContext(ctx, "revoke the access tokens of a session", "family", fam.id, "error", err)
	}
}

// recordSession records and publishes that the access tokens of fam are
// refused.
func (s *Service) recordSession(ctx context.Context, fam familyRecord) error {
	until := fam.AccessUntil
	if until.IsZero() {
		// A family from before AccessUntil was kept: as long as any token
		// may live.
		until = s.now().Add(MaxAccessTTL)
	}
	rec := sessionRevocation{Namespace: fam.Namespace, AccountID: fam.AccountID, Until: until}
	if err := s.revocations.recordSession(ctx, fam.id, rec); err != nil {
		return err
	}
	s.tokensChanged(ctx)
	return nil
}

// revokeRefresh ends the login of refresh token raw for p, who must act in
// the family's namespace: the refresh token and every access token issued
// from the login stop working.
func (s *Service) revokeRefresh(ctx context.Context, p principal, raw string) error {
	fam, err := s.family(ctx, raw, s.now())
	if errors.Is(err, ErrBadCredentials) {
		return fmt.Errorf("no such refresh token, or it expired or was revoked: %w", ErrNotFound)
	}
	if err != nil {
		return err
	}
	if _, err := p.target(fam.Namespace); err != nil {
		return err
	}
	s.revokeFamily(ctx, fam)
	if err := s.recordSession(ctx, fam); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "session revoked", "account_id", fam.AccountID, "namespace", fam.Namespace, "by", p.String())
	return nil
}

// inspect verifies an access token for p and returns its account as it is
// now. Unlike other services' verifiers, which learn of revocations by
// polling, it reads the account, so a revoked, disabled or deleted
// account's token fails at once.
func (s *Service) inspect(ctx context.Context, p principal, raw string) (Account, time.Time, error) {
	c, err := s.verifier.Verify(raw)
	if err != nil {
		return Account{}, time.Time{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if !p.member(c.Namespace) && !p.platformAdmin() && !p.core() {
		return Account{}, time.Time{}, p.deny("inspect tokens of namespace %q", c.Namespace)
	}
	a, err := s.lookupID(ctx, c.Namespace, c.Subject)
	if errors.Is(err, ErrNotFound) || err == nil && (a.Disabled || c.IssuedAt.Before(a.TokensNotBefore)) {
		return Account{}, time.Time{}, fmt.Errorf("account %s is gone, disabled or revoked: %w", c.Subject, ErrUnauthenticated)
	}
	if err != nil {
		return Account{}, time.Time{}, err
	}
	return a.Account, c.ExpiresAt, nil
}

// newRefreshToken returns 256 random bits, base64url-encoded.
func newRefreshToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("refresh token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashToken is the key a refresh token is stored under.
func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}
