package mtls_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

func TestCAFilesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	ca := mtlstest.NewCA(t)
	if err := ca.WriteFiles(dir); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	certFile, keyFile := mtls.CAFiles(dir)
	assertMode(t, keyFile, 0o600)
	assertMode(t, dir, 0o700)
	loaded, err := mtls.LoadCA(certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadCA() = %v", err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Errorf("LoadCA() certificate differs from the one written")
	}
	// A bundle issued by the reloaded CA must be trusted by one issued
	// before the reload: that is what a restart of `micro server` needs.
	b, err := loaded.Issue(mtls.Identity{Namespace: "micro", Service: "auth"}, nil, time.Hour)
	if err != nil {
		t.Fatalf("Issue() from loaded CA = %v", err)
	}
	if _, err := b.Cert.Leaf.Verify(mtlsVerifyOptions(ca)); err != nil {
		t.Errorf("leaf from loaded CA does not verify against original: %v", err)
	}
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := t.TempDir()
	first, err := mtls.LoadOrCreateCA(dir, "m3o", time.Hour)
	if err != nil {
		t.Fatalf("LoadOrCreateCA() first = %v", err)
	}
	second, err := mtls.LoadOrCreateCA(dir, "m3o", time.Hour)
	if err != nil {
		t.Fatalf("LoadOrCreateCA() second = %v", err)
	}
	if !first.Cert.Equal(second.Cert) {
		t.Errorf("LoadOrCreateCA() made a new CA on the second call, want the stored one")
	}
	certFile, _ := mtls.CAFiles(dir)
	if err := os.WriteFile(certFile, []byte("junk"), 0o644); err != nil {
		t.Fatalf("WriteFile() = %v", err)
	}
	if _, err := mtls.LoadOrCreateCA(dir, "m3o", time.Hour); err == nil {
		t.Errorf("LoadOrCreateCA(corrupt CA) = nil, want error rather than a silent new CA")
	}
}

func TestBundleFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	b := mtlstest.Bundle(t, ca, "micro", "store")
	if err := b.WriteFiles(dir, "store"); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	caFile, certFile, keyFile := mtls.BundleFiles(dir, "store")
	assertMode(t, keyFile, 0o600)
	loaded, err := mtls.LoadBundle(caFile, certFile, keyFile)
	if err != nil {
		t.Fatalf("LoadBundle() = %v", err)
	}
	if want := (mtls.Identity{Namespace: "micro", Service: "store"}); loaded.Identity != want {
		t.Errorf("LoadBundle().Identity = %v, want %v", loaded.Identity, want)
	}

	// The same certificate against somebody else's CA must not load.
	otherDir := t.TempDir()
	if err := mtlstest.NewCA(t).WriteFiles(otherDir); err != nil {
		t.Fatalf("WriteFiles() = %v", err)
	}
	otherCA, _ := mtls.CAFiles(otherDir)
	if _, err := mtls.LoadBundle(otherCA, certFile, keyFile); err == nil {
		t.Errorf("LoadBundle(foreign CA) = nil, want error")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("Stat(%s) = %v", path, err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %o, want %o", filepath.Base(path), got, want)
	}
}

func mtlsVerifyOptions(ca *mtls.CA) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}
