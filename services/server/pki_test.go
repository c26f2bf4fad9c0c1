package server

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
)

// oldPlatformCA writes to dir a platform CA as servers made it before the
// workload CA existed (path length 0), with a certificate it issued, and
// returns that certificate.
func oldPlatformCA(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	ca, err := mtls.NewCA("M3O platform CA", caValidity)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := *ca.Cert
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	old := &mtls.CA{Cert: mustParse(t, der), Key: ca.Key}
	if err := old.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	b, err := old.Issue(mtls.Identity{Namespace: "micro", Service: "store"}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return b.Cert.Leaf
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPKIUpgradesAnOldCAForTheWorkloadCA opens a data dir whose platform
// CA predates the workload CA: it is re-signed with its own key, what it
// issued still verifies, and the workload CA is issued below it once,
// with its key private.
func TestPKIUpgradesAnOldCAForTheWorkloadCA(t *testing.T) {
	dir := t.TempDir()
	store := oldPlatformCA(t, dir)
	p, err := openPKI(dir)
	if err != nil {
		t.Fatalf("openPKI() = %v", err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, mtls.CACertFile))
	block, _ := pem.Decode(caPEM)
	onDisk := mustParse(t, block.Bytes)
	if !p.ca.AllowsIntermediates() || onDisk.MaxPathLenZero {
		t.Fatal("the platform CA still has path length 0 after openPKI")
	}
	if err := store.CheckSignatureFrom(onDisk); err != nil {
		t.Errorf("a certificate of the old CA no longer verifies: %v", err)
	}
	inter, err := p.workloadCA()
	if err != nil {
		t.Fatalf("workloadCA() = %v", err)
	}
	again, err := p.workloadCA()
	if err != nil || !again.Cert.Equal(inter.Cert) {
		t.Errorf("second workloadCA() = %v, want the same CA loaded back", err)
	}
	info, err := os.Stat(filepath.Join(dir, "certs", workloadCAKey))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("workload CA key mode = %v, %v, want 0600", info.Mode().Perm(), err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(onDisk)
	if _, err := inter.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("the workload CA does not chain to the platform CA: %v", err)
	}
}

func TestDefaultRuntimeDir(t *testing.T) {
	// t.TempDir's parent is closed to others; this one is not.
	open, err := os.MkdirTemp("", "m3o-runtime-dir-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o711); err != nil {
		t.Fatal(err)
	}
	if got, want := DefaultRuntimeDir(filepath.Join(open, "data")), filepath.Join(open, "data-runtime"); got != want {
		t.Errorf("DefaultRuntimeDir(reachable) = %q, want %q", got, want)
	}
	closed := filepath.Join(t.TempDir(), "closed")
	if err := os.MkdirAll(filepath.Join(closed, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(closed, 0o700)
	got := DefaultRuntimeDir(filepath.Join(closed, "data"))
	if os.Geteuid() == 0 && filepath.Dir(got) != systemRuntimeRoot {
		t.Errorf("DefaultRuntimeDir(closed, as root) = %q, want a directory under %s", got, systemRuntimeRoot)
	}
	if err := checkRuntimeDir(filepath.Join(open, "data"), filepath.Join(open, "data", "rt")); err == nil {
		t.Error("checkRuntimeDir(inside the data dir) = nil, want a refusal")
	}
}
