package config_test

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/mtls/mtlstest"
	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/statustest"
)

// plaintext is a secret that must never be seen outside a revealing Get.
const plaintext = "hunter2-correct-horse"

func TestSecretsMaskedAndRevealed(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice", "developer")
	mustSet(t, u, "db.host", `"h"`)
	mustSetSecret(t, u, "db.password", `"`+plaintext+`"`)
	mustSetSecret(t, u, "api", `{"key":"`+plaintext+`","n":1}`)

	masked := []struct{ path, want string }{
		{"db.password", `"[secret]"`},
		{"db", `{"host":"h","password":"[secret]"}`},
		{"api", `{"key":"[secret]","n":"[secret]"}`},
		{"", `{"api":{"key":"[secret]","n":"[secret]"},"db":{"host":"h","password":"[secret]"}}`},
	}
	for _, m := range masked {
		if got := mustGet(t, u, m.path); got != m.want {
			t.Errorf("Get(%q) = %s, want %s", m.path, got, m.want)
		}
	}
	revealed := []struct{ path, want string }{
		{"db.password", `"` + plaintext + `"`},
		{"db", `{"host":"h","password":"` + plaintext + `"}`},
		{"api.n", `1`},
	}
	for _, r := range revealed {
		if got := mustReveal(t, u, r.path); got != r.want {
			t.Errorf("Get(%q, secret) = %s, want %s", r.path, got, r.want)
		}
	}
	// An admin of micro may reveal another namespace's secrets, by name.
	resp, err := e.admin.client.Get(e.admin.ctx, &configv1.GetRequest{Namespace: "tenant-a", Path: "db.password", Secret: true})
	if err != nil || resp.GetValue() != `"`+plaintext+`"` {
		t.Errorf("Get(tenant-a db.password, secret) as admin = %v, %v, want the plaintext", resp, err)
	}
	// Overwriting a secret with a plain value makes it plain.
	mustSet(t, u, "db.password", `"plain"`)
	if got := mustGet(t, u, "db.password"); got != `"plain"` {
		t.Errorf("Get(db.password) after a plain Set = %s, want \"plain\"", got)
	}
}

// TestSecretsEncryptedAtRest reads the store as the config service does
// and finds only ciphertext.
func TestSecretsEncryptedAtRest(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSetSecret(t, u, "p", `"`+plaintext+`"`)
	mustSet(t, u, "q", `1`)
	s := e.storeClient(t, mtlstest.Bundle(t, e.ca, configID.Namespace, configID.Service))
	for _, table := range []string{"documents", "history"} {
		resp, err := s.Read(t.Context(), &storev1.ReadRequest{Database: config.Database, Table: table, Prefix: true})
		if err != nil || len(resp.GetRecords()) == 0 {
			t.Fatalf("Read(_config/%s) = %v, %v, want records", table, resp, err)
		}
		for _, rec := range resp.GetRecords() {
			if bytes.Contains(rec.GetValue(), []byte(plaintext)) || !bytes.Contains(rec.GetValue(), []byte(`"$secret"`)) {
				t.Errorf("_config/%s/%s = %s, want the secret sealed", table, rec.GetKey(), rec.GetValue())
			}
		}
	}
}

// TestHistoryMasksSecrets checks that past versions never show a secret.
func TestHistoryMasksSecrets(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSetSecret(t, u, "p", `"`+plaintext+`"`)
	mustSet(t, u, "q", `1`)
	resp, err := u.client.History(u.ctx, &configv1.HistoryRequest{})
	if err != nil || len(resp.GetChanges()) != 2 {
		t.Fatalf("History() = %v, %v, want 2 changes", resp, err)
	}
	for _, c := range resp.GetChanges() {
		if strings.Contains(c.GetValue(), plaintext) || !strings.Contains(c.GetValue(), `"p":"[secret]"`) {
			t.Errorf("History() version %d = %s, want the secret masked", c.GetVersion(), c.GetValue())
		}
	}
}

// TestKeyRotationAcrossReplicas rotates the config key the way an operator
// would: a replica with a new primary key and the old one reads old secrets
// and seals new ones under the new key, which a replica holding only the
// new key can read.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	oldRing := newRing(t)
	e := newEnv(t, oldRing)
	u := e.account(t, "tenant-a", "alice")
	mustSetSecret(t, u, "old", `"before rotation"`)

	newKey := bytes.Repeat([]byte{7}, config.KeySize)
	rotated, err := oldRing.With("k2", newKey)
	if err != nil {
		t.Fatalf("With(k2) = %v", err)
	}
	r := user{ctx: u.ctx, client: e.config(t, e.startConfig(t, rotated, &syncBuffer{}), "micro", "proxy")}
	if got := mustReveal(t, r, "old"); got != `"before rotation"` {
		t.Errorf("Get(old, secret) after rotation = %s, want the old plaintext", got)
	}
	mustSetSecret(t, r, "new", `"after rotation"`)

	onlyNew, err := config.NewKeyring("k2", map[string][]byte{"k2": newKey})
	if err != nil {
		t.Fatalf("NewKeyring(k2) = %v", err)
	}
	n := user{ctx: u.ctx, client: e.config(t, e.startConfig(t, onlyNew, &syncBuffer{}), "micro", "proxy")}
	if got := mustReveal(t, n, "new"); got != `"after rotation"` {
		t.Errorf("Get(new, secret) with only the new key = %s, want the plaintext", got)
	}
	// The old value needs the old key: a ring without it cannot open it,
	// and says so as an internal error rather than a wrong answer.
	_, err = n.client.Get(n.ctx, &configv1.GetRequest{Path: "old", Secret: true})
	statustest.WantCode(t, "Get(old, secret) without the old key", err, codes.Internal)
}
