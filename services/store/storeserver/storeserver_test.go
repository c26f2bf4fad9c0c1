package storeserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"m3o.dev/pkg/token"
)

func TestValidate(t *testing.T) {
	valid := Config{
		Backend: BackendPebble, DataDir: "/data", Address: "127.0.0.1:0", SweepInterval: time.Minute,
		CAFile: "ca", CertFile: "cert", KeyFile: "key",
	}
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"pebble", func(*Config) {}, true},
		{"cockroach", func(c *Config) { c.Backend, c.DataDir, c.DSN = BackendCockroach, "", "postgres://db" }, true},
		{"memory", func(c *Config) { c.Backend, c.DataDir = BackendMemory, "" }, true},
		{"unknown backend", func(c *Config) { c.Backend = "bolt" }, false},
		{"pebble without a directory", func(c *Config) { c.DataDir = "" }, false},
		{"pebble with a DSN", func(c *Config) { c.DSN = "postgres://db" }, false},
		{"cockroach without a DSN", func(c *Config) { c.Backend, c.DataDir = BackendCockroach, "" }, false},
		{"address without a port", func(c *Config) { c.Address = "localhost" }, false},
		{"negative quota", func(c *Config) { c.QuotaBytes = -1 }, false},
		{"no sweep interval", func(c *Config) { c.SweepInterval = 0 }, false},
		{"no key file", func(c *Config) { c.KeyFile = "" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("Validate(%+v) = %v, want ok %t (errors wrapping ErrConfig)", c, err, tt.ok)
			}
		})
	}
}

func TestLoadVerifier(t *testing.T) {
	dir := t.TempDir()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey() = %v", err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ecdsa.GenerateKey() = %v", err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey() = %v", err)
	}
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"one Ed25519 key", block("PUBLIC KEY", edDER), true},
		{"other blocks are skipped", append(block("CERTIFICATE", []byte("x")), block("PUBLIC KEY", edDER)...), true},
		{"an ECDSA key", block("PUBLIC KEY", ecDER), false},
		{"a broken key", block("PUBLIC KEY", []byte("garbage")), false},
		{"no key", []byte("not PEM at all"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "keys.pem")
			if err := os.WriteFile(file, tt.data, 0o600); err != nil {
				t.Fatalf("WriteFile() = %v", err)
			}
			v, err := loadVerifier(file)
			if (err == nil) != tt.ok {
				t.Fatalf("loadVerifier() = %v, want ok %t", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			tok, err := token.NewSigner(kid, priv).Sign(token.Claims{Subject: "s", Namespace: "ns", ExpiresAt: time.Now().Add(time.Minute)})
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			if _, err := v.Verify(tok); err != nil {
				t.Errorf("Verify() with the loaded key = %v, want nil", err)
			}
		})
	}
	if v, err := loadVerifier(""); v != nil || err != nil {
		t.Errorf("loadVerifier(\"\") = %v, %v, want nil, nil", v, err)
	}
	if _, err := loadVerifier(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("loadVerifier(missing file) = nil error, want one")
	}
}
