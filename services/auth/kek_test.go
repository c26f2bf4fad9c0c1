package auth_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/auth"
	"m3o.dev/services/store"
)

// storedKey is the part of a signing key record these tests read.
type storedKey struct {
	Kid    string `json:"kid"`
	Sealed []byte `json:"sealed_seed"`
	KEK    string `json:"kek"`
	Seed   []byte `json:"seed"`
}

// rawRecords returns every record of the _auth database's table, as the
// store backend holds it.
func (e *env) rawRecords(t *testing.T, table string) []store.Record {
	t.Helper()
	page, err := e.backend.Scan(t.Context(), store.Table{Database: "_auth", Name: table}, store.Query{Limit: 10000})
	if err != nil {
		t.Fatalf("Scan(_auth/%s) = %v", table, err)
	}
	return page.Records
}

// rawKeys decodes the signing key records as stored.
func (e *env) rawKeys(t *testing.T) []storedKey {
	t.Helper()
	var out []storedKey
	for _, r := range e.rawRecords(t, "keys") {
		var k storedKey
		if err := json.Unmarshal(r.Value, &k); err != nil {
			t.Fatalf("signing key record %s: %v", r.Key, err)
		}
		out = append(out, k)
	}
	return out
}

// encodings are the forms a seed could take in a stored value.
func encodings(b []byte) [][]byte {
	return [][]byte{b, []byte(base64.StdEncoding.EncodeToString(b)), []byte(base64.RawStdEncoding.EncodeToString(b)),
		[]byte(base64.URLEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b)), []byte(hex.EncodeToString(b))}
}

// wantNoSeedInStore fails the test if any record of the _auth database
// holds seed in any common encoding.
func (e *env) wantNoSeedInStore(t *testing.T, seed []byte) {
	t.Helper()
	tables, err := e.backend.Tables(t.Context(), "_auth")
	if err != nil {
		t.Fatalf("Tables(_auth) = %v", err)
	}
	for _, table := range tables {
		for _, r := range e.rawRecords(t, table) {
			for _, enc := range encodings(seed) {
				if bytes.Contains(r.Value, enc) || strings.Contains(r.Key, string(enc)) {
					t.Errorf("record %s/%s holds a signing key seed in the clear: %s", table, r.Key, r.Value)
				}
			}
		}
	}
}

// TestSigningKeysSealedAtRest checks that the store holds every signing
// key sealed under the key-encryption key, bound to its key id, and no
// seed in any readable form.
func TestSigningKeysSealedAtRest(t *testing.T) {
	e := newEnv(t, testConfig(t))
	if _, err := e.svc.Keys().Rotate(t.Context()); err != nil {
		t.Fatalf("Rotate() = %v", err)
	}
	login(t, e.dial(t, "micro", "proxy"), "", "admin", adminPassword)
	published := e.svc.Keys().KeySet().Keys()
	keys := e.rawKeys(t)
	if len(keys) != 2 {
		t.Fatalf("stored signing keys = %d, want 2", len(keys))
	}
	for _, k := range keys {
		if len(k.Seed) != 0 || len(k.Sealed) == 0 || k.KEK != e.cfg.KeyEncryptionKey.ID() {
			t.Fatalf("stored key %s = seed %d bytes, sealed %d bytes under %q; want only a sealed seed under %q",
				k.Kid, len(k.Seed), len(k.Sealed), k.KEK, e.cfg.KeyEncryptionKey.ID())
		}
		seed, err := auth.OpenSealed(e.cfg.KeyEncryptionKey, k.Kid, k.Sealed)
		if err != nil {
			t.Fatalf("OpenSealed(%s) = %v", k.Kid, err)
		}
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if !pub.Equal(published[k.Kid]) {
			t.Errorf("sealed key %s opens to a key that is not the published one", k.Kid)
		}
		e.wantNoSeedInStore(t, seed)
		// The sealed seed belongs to its key id: under another it opens to
		// nothing.
		if _, err := auth.OpenSealed(e.cfg.KeyEncryptionKey, "another-kid", k.Sealed); err == nil {
			t.Errorf("OpenSealed(%s's seed under another key id) = nil error, want a refusal", k.Kid)
		}
	}
}

// TestStoreCopyAloneForgesNothing checks that the store without its
// key-encryption key yields no signing key: auth over it with another key
// refuses to start, naming both keys, rather than sign with a new one.
func TestStoreCopyAloneForgesNothing(t *testing.T) {
	e := newEnv(t, testConfig(t))
	cfg := e.cfg
	cfg.KeyEncryptionKey = newKEK(t)
	_, err := e.newService(t, cfg, auth.Deps{})
	if !errors.Is(err, auth.ErrBadKeyEncryptionKey) || !strings.Contains(err.Error(), e.cfg.KeyEncryptionKey.ID()) {
		t.Errorf("auth.New(another key-encryption key) = %v, want ErrBadKeyEncryptionKey naming the key the store was sealed with", err)
	}
	cfg.KeyEncryptionKey = nil
	if _, err := e.newService(t, cfg, auth.Deps{}); err == nil || !strings.Contains(err.Error(), "key-encryption key is required") {
		t.Errorf("auth.New(no key-encryption key) = %v, want a refusal saying one is required", err)
	}
}

// TestPlaintextKeysSealed checks the migration: a signing key stored in
// the clear, as before keys were sealed, keeps signing and verifying, and
// its record is rewritten sealed.
func TestPlaintextKeysSealed(t *testing.T) {
	e := &env{ca: mtlstest.NewCA(t), cfg: testConfig(t), clock: newClock()}
	e.storeAddr = e.serveStore(t)
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := json.Marshal(map[string]any{"kid": kid, "seed": priv.Seed(), "created": time.Now(), "active_from": time.Now().Add(-time.Hour)})
	if _, err := e.backend.Put(t.Context(), store.Table{Database: "_auth", Name: "keys"}, store.Record{Key: kid, Value: legacy}, store.PutOptions{}); err != nil {
		t.Fatalf("Put(legacy key) = %v", err)
	}
	e.start(t)
	admin := login(t, e.dial(t, "micro", "proxy"), "", "admin", adminPassword)
	if got := tokenKid(t, admin.token.GetAccessToken()); got != kid {
		t.Errorf("access token signed by %q, want the migrated key %q", got, kid)
	}
	keys := e.rawKeys(t)
	if len(keys) != 1 || len(keys[0].Seed) != 0 || len(keys[0].Sealed) == 0 {
		t.Fatalf("stored keys after migration = %+v, want the one key, sealed", keys)
	}
	if seed, err := auth.OpenSealed(e.cfg.KeyEncryptionKey, kid, keys[0].Sealed); err != nil || !bytes.Equal(seed, priv.Seed()) {
		t.Errorf("OpenSealed(migrated key) = %v, want the original seed", err)
	}
	e.wantNoSeedInStore(t, priv.Seed())
	if _, err := e.dial(t, "micro", "proxy").auth.Inspect(admin.ctx, &authv1.InspectRequest{Token: admin.token.GetAccessToken()}); err != nil {
		t.Errorf("Inspect(token of the migrated key) = %v", err)
	}
}

// tokenKid returns the kid header of a JWT.
func tokenKid(t *testing.T, raw string) string {
	t.Helper()
	header, _, _ := strings.Cut(raw, ".")
	data, err := base64.RawURLEncoding.DecodeString(header)
	var h struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(data, &h) != nil {
		t.Fatalf("token header %q is not JSON", header)
	}
	return h.Kid
}

// TestKeyEncryptionKeyFile checks the file micro server keeps the key in:
// created once with mode 0600, read back the same, never overwritten, and
// refused when open to every user.
func TestKeyEncryptionKeyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data", "kek")
	first, err := auth.LoadOrCreateKeyEncryptionKey(file)
	if err != nil {
		t.Fatalf("LoadOrCreateKeyEncryptionKey(new) = %v", err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key-encryption key file mode = %v, %v, want 0600", fi.Mode().Perm(), err)
	}
	again, err := auth.LoadOrCreateKeyEncryptionKey(file)
	if err != nil || again.ID() != first.ID() {
		t.Errorf("LoadOrCreateKeyEncryptionKey(existing) = %v, %v, want the key it created", again, err)
	}
	sealed, err := auth.Seal(first, "kid", []byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.OpenSealed(again, "kid", sealed); err != nil {
		t.Errorf("open with the key read back = %v", err)
	}
	if strings.Contains(first.String()+first.GoString(), string(sealed)) || !strings.Contains(first.String(), first.ID()) {
		t.Errorf("String() = %q, want the id alone", first.String())
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadKeyEncryptionKey(file); !errors.Is(err, auth.ErrBadKeyEncryptionKey) {
		t.Errorf("LoadKeyEncryptionKey(mode 0644) = %v, want ErrBadKeyEncryptionKey", err)
	}
}
