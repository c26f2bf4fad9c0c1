package auth

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"m3o.dev/pkg/token"
	"m3o.dev/services/internal/storeclient"
)

// keyRecord is a signing key as kept in the _auth database. Its private
// half is sealed under the key-encryption key, which the store never sees,
// so that a copy of the store forges nothing.
type keyRecord struct {
	Kid string `json:"kid"`
	// Sealed is the Ed25519 seed sealed under the key-encryption key KEK,
	// bound to Kid.
	Sealed []byte `json:"sealed_seed,omitempty"`
	// KEK is the id of the key-encryption key that sealed the seed.
	KEK string `json:"kek,omitempty"`
	// Seed is the seed in the clear, as records written before encryption
	// hold it; Load seals such a record and writes it back.
	Seed       []byte    `json:"seed,omitempty"`
	Created    time.Time `json:"created"`
	ActiveFrom time.Time `json:"active_from"`
	version    uint64
	priv       ed25519.PrivateKey
}

// public returns the key's public half.
func (k keyRecord) public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicKey is a published verification key.
type PublicKey struct {
	// Kid names the key in the tokens it signs.
	Kid string
	// Key is the Ed25519 public key.
	Key ed25519.PublicKey
	// NotAfter is when the last token the key signed expires; zero while
	// the key signs or is about to.
	NotAfter time.Time
}

// KeyManager keeps the signing keys. The newest key whose ActiveFrom has
// passed signs; a key rotated out stays published until MaxAccessTTL after
// its successor took over, which outlives every token it signed. A new key
// is published KeyPublishDelay before it signs, so that verifiers polling
// PublicKeys know it before they meet it.
//
// Replicas share the keys through the store: each reloads them every
// RefreshInterval, and any of them may rotate. It is safe for concurrent
// use.
type KeyManager struct {
	kv     *storeclient.Client
	kek    *KeyEncryptionKey
	now    func() time.Time
	delay  time.Duration
	logger *slog.Logger
	set    *token.KeySet
	// changed, when set, is told of a rotation, which watchers must hear
	// of.
	changed func(context.Context)

	mu   sync.RWMutex
	keys []keyRecord // by ActiveFrom, then Kid
}

func newKeyManager(k *storeclient.Client, kek *KeyEncryptionKey, now func() time.Time, delay time.Duration, logger *slog.Logger) *KeyManager {
	return &KeyManager{kv: k, kek: kek, now: now, delay: delay, logger: logger, set: token.NewKeySet()}
}

// KeySet returns the key set of every published key, kept current by Load
// and Rotate.
func (m *KeyManager) KeySet() *token.KeySet { return m.set }

// Load reads the keys from the store, creating the first one when there
// are none, and forgets those whose tokens have all expired. A key kept in
// the clear, as before keys were sealed, is sealed and written back. A key
// sealed under another key-encryption key fails the load: starting over
// with a new key would quietly invalidate every token.
func (m *KeyManager) Load(ctx context.Context) error {
	recs, err := m.kv.ScanAll(ctx, tableKeys, "")
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	keys := make([]keyRecord, 0, len(recs))
	for _, r := range recs {
		k, err := m.decode(ctx, r)
		if errors.Is(err, ErrBadKeyEncryptionKey) {
			return err
		}
		if err != nil {
			m.logger.ErrorContext(ctx, "skip unreadable signing key", "key", r.Key, "error", err)
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		k, err := m.add(ctx, m.now())
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	m.install(ctx, keys)
	return nil
}

// Rotate creates a new signing key that signs from KeyPublishDelay on, and
// returns its id. The current key keeps signing until then, and verifying
// for MaxAccessTTL after.
func (m *KeyManager) Rotate(ctx context.Context) (string, error) {
	m.mu.RLock()
	keys := slices.Clone(m.keys)
	m.mu.RUnlock()
	activeFrom := m.now().Add(m.delay)
	if n := len(keys); n > 0 && !activeFrom.After(keys[n-1].ActiveFrom) {
		// The newest key must win the ordering, even on a coarse clock.
		activeFrom = keys[n-1].ActiveFrom.Add(time.Microsecond)
	}
	k, err := m.add(ctx, activeFrom)
	if err != nil {
		return "", err
	}
	keys = append(keys, k)
	m.install(ctx, keys)
	m.logger.InfoContext(ctx, "signing key rotated", "kid", k.Kid, "active_from", k.ActiveFrom)
	if m.changed != nil {
		m.changed(ctx)
	}
	return k.Kid, nil
}

// add creates and stores a key that signs from activeFrom.
func (m *KeyManager) add(ctx context.Context, activeFrom time.Time) (keyRecord, error) {
	kid, priv, err := token.GenerateKey()
	if err != nil {
		return keyRecord{}, err
	}
	sealed, err := m.kek.seal(kid, priv.Seed())
	if err != nil {
		return keyRecord{}, err
	}
	k := keyRecord{Kid: kid, Sealed: sealed, KEK: m.kek.ID(), Created: m.now(), ActiveFrom: activeFrom, priv: priv}
	if k.version, err = m.kv.PutJSON(ctx, tableKeys, kid, k, storeclient.Create(0)); err != nil {
		return keyRecord{}, fmt.Errorf("store key %s: %w", kid, err)
	}
	return k, nil
}

// install makes keys the current set: it drops and deletes those past
// their NotAfter and publishes the rest.
func (m *KeyManager) install(ctx context.Context, keys []keyRecord) {
	slices.SortFunc(keys, func(a, b keyRecord) int {
		return cmp.Or(a.ActiveFrom.Compare(b.ActiveFrom), cmp.Compare(a.Kid, b.Kid))
	})
	now := m.now()
	live := keys[:0:0]
	public := make(map[string]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		if na := notAfter(keys, i, now); !na.IsZero() && !now.Before(na) {
			m.forget(ctx, k)
			continue
		}
		live = append(live, k)
		public[k.Kid] = k.public()
	}
	m.mu.Lock()
	m.keys = live
	m.mu.Unlock()
	m.set.Replace(public)
}

// forget deletes an expired key from the store; another replica may have
// done it already, and a failure only leaves it for the next Load.
func (m *KeyManager) forget(ctx context.Context, k keyRecord) {
	err := m.kv.Delete(ctx, tableKeys, k.Kid, &k.version)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		m.logger.WarnContext(ctx, "delete expired signing key", "kid", k.Kid, "error", err)
	}
}

// notAfter is when the last token signed by keys[i] expires: MaxAccessTTL
// after the next key took over. It is zero while no later key signs yet.
func notAfter(keys []keyRecord, i int, now time.Time) time.Time {
	if i+1 >= len(keys) || keys[i+1].ActiveFrom.After(now) {
		return time.Time{}
	}
	return keys[i+1].ActiveFrom.Add(MaxAccessTTL)
}

// Signer returns a signer for the key that signs now.
func (m *KeyManager) Signer() (*token.Signer, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range slices.Backward(m.keys) {
		if !k.ActiveFrom.After(now) {
			return token.NewSigner(k.Kid, k.priv), nil
		}
	}
	return nil, errors.New("no signing key is active")
}

// Published returns every key that may verify a live token.
func (m *KeyManager) Published() []PublicKey {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]PublicKey, 0, len(m.keys))
	for i, k := range m.keys {
		na := notAfter(m.keys, i, now)
		if !na.IsZero() && !now.Before(na) {
			continue
		}
		out = append(out, PublicKey{Kid: k.Kid, Key: k.public(), NotAfter: na})
	}
	return out
}

// SigningAge returns how long the current signing key has signed, for
// automatic rotation.
func (m *KeyManager) SigningAge() time.Duration {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range slices.Backward(m.keys) {
		if !k.ActiveFrom.After(now) {
			return now.Sub(k.ActiveFrom)
		}
	}
	return 0
}

// pending reports whether a key waits to sign, so that automatic rotation
// does not stack one rotation on another.
func (m *KeyManager) pending() bool {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.keys) > 0 && m.keys[len(m.keys)-1].ActiveFrom.After(now)
}

// decode reads a key record, opening its sealed seed, and seals a seed
// found in the clear.
func (m *KeyManager) decode(ctx context.Context, r storeclient.Record) (keyRecord, error) {
	var k keyRecord
	if err := storeclient.DecodeJSON(r.Value, &k); err != nil {
		return keyRecord{}, err
	}
	k.version = r.Version
	seed, err := m.seed(ctx, &k)
	if err != nil {
		return keyRecord{}, err
	}
	if len(seed) != ed25519.SeedSize || k.Kid == "" {
		return keyRecord{}, errors.New("malformed key record")
	}
	k.priv = ed25519.NewKeyFromSeed(seed)
	return k, nil
}

// seed returns k's seed: opened when sealed, and sealed in the store when
// k still holds it in the clear.
func (m *KeyManager) seed(ctx context.Context, k *keyRecord) ([]byte, error) {
	switch {
	case len(k.Sealed) > 0 && k.KEK != m.kek.ID():
		return nil, fmt.Errorf("signing key %s is sealed under key-encryption key %s, but auth was given %s; "+
			"start it with the key the signing keys were sealed under: %w", k.Kid, k.KEK, m.kek.ID(), ErrBadKeyEncryptionKey)
	case len(k.Sealed) > 0:
		return m.kek.open(k.Kid, k.Sealed)
	case len(k.Seed) == ed25519.SeedSize && k.Kid != "":
		seed := k.Seed
		m.sealInPlace(ctx, k)
		return seed, nil
	}
	return nil, errors.New("malformed key record")
}

// sealInPlace replaces a key record that holds its seed in the clear with
// the sealed form. Another replica may have done it first, and a failure
// leaves it for the next Load: the key works either way.
func (m *KeyManager) sealInPlace(ctx context.Context, k *keyRecord) {
	sealed, err := m.kek.seal(k.Kid, k.Seed)
	if err != nil {
		m.logger.ErrorContext(ctx, "seal signing key", "kid", k.Kid, "error", err)
		return
	}
	rec := *k
	rec.Sealed, rec.KEK, rec.Seed = sealed, m.kek.ID(), nil
	v, err := m.kv.PutJSON(ctx, tableKeys, k.Kid, rec, storeclient.At(k.version, 0))
	if err != nil {
		m.logger.WarnContext(ctx, "seal signing key kept in the clear", "kid", k.Kid, "error", err)
		return
	}
	*k = rec
	k.version = v
	m.logger.InfoContext(ctx, "signing key kept in the clear is now sealed", "kid", k.Kid, "kek", m.kek.ID())
}
