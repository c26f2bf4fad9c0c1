package mtls_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

// workloadCA returns an intermediate below ca, failing the test on error.
func workloadCA(t *testing.T, ca *mtls.CA) *mtls.CA {
	t.Helper()
	inter, err := ca.IssueIntermediate("m3o workload CA", time.Hour)
	if err != nil {
		t.Fatalf("IssueIntermediate() = %v", err)
	}
	return inter
}

// issue issues id from ca on hosts, failing the test on error.
func issue(t *testing.T, ca *mtls.CA, ns, svc string, hosts ...string) *mtls.Bundle {
	t.Helper()
	b, err := ca.Issue(mtls.Identity{Namespace: ns, Service: svc}, hosts, time.Hour)
	if err != nil {
		t.Fatalf("Issue(%s/%s) = %v", ns, svc, err)
	}
	return b
}

// TestIntermediateHandshakes runs the handshakes a workload certificate
// meets: the proxy calling a tenant's service, the service calling a
// platform server, and the refusals that keep the workload CA from
// minting anything but tenants' workloads.
func TestIntermediateHandshakes(t *testing.T) {
	ca := mtlstest.NewCA(t)
	inter := workloadCA(t, ca)
	proxy := mtlstest.Bundle(t, ca, "micro", "proxy")
	store := mtlstest.Bundle(t, ca, "micro", "store")
	hello := issue(t, inter, "brave-otter", "hello")
	fakeStore := issue(t, inter, "micro", "store")
	withHosts := issue(t, inter, "brave-otter", "hostly", "127.0.0.1", "localhost")
	storeID := mtls.Identity{Namespace: "micro", Service: "store"}

	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		ok     bool
	}{
		{"proxy calls a workload", hello.ServerConfig(), proxy.ClientConfig(mtls.Identity{Namespace: "brave-otter", Service: "hello"}), true},
		{"workload calls a platform server", store.ServerConfig(), hello.ClientConfig(storeID), true},
		{"workload CA's micro identity as client", store.ServerConfig(), fakeStore.ClientConfig(storeID), false},
		{"workload CA's micro identity as server", fakeStore.ServerConfig(), proxy.ClientConfig(storeID), false},
		{"workload CA's leaf checked by host name", mtls.ServerOnlyConfig(withHosts.Cert), mtls.ClientRootsConfig(ca.Pool(), "localhost"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, results := tlsServer(t, tt.server)
			clientErr := talk(addr, tt.client)
			serverErr := serverResult(t, results)
			if tt.ok && (clientErr != nil || serverErr != nil) {
				t.Errorf("handshake = client %v, server %v, want both nil", clientErr, serverErr)
			}
			if !tt.ok && clientErr == nil && serverErr == nil {
				t.Errorf("handshake = both nil, want a refusal")
			}
		})
	}
}

func TestIntermediateIsLeafOnly(t *testing.T) {
	ca := mtlstest.NewCA(t)
	inter := workloadCA(t, ca)
	if _, err := inter.IssueIntermediate("below", time.Hour); err == nil {
		t.Error("intermediate.IssueIntermediate() = nil error, want a refusal")
	}
	if !inter.IsIntermediate() || ca.IsIntermediate() {
		t.Errorf("IsIntermediate() = %v (intermediate), %v (root), want true, false", inter.IsIntermediate(), ca.IsIntermediate())
	}
	if !inter.Cert.MaxPathLenZero || len(inter.Cert.PermittedURIDomains) != 1 {
		t.Errorf("intermediate path length zero = %v, URI domains %v, want true and one", inter.Cert.MaxPathLenZero, inter.Cert.PermittedURIDomains)
	}
}

// TestResignKeepsIssuedCertificates upgrades a CA made before
// intermediates existed: the re-signed CA accepts the workload chain and
// still verifies what the old one issued.
func TestResignKeepsIssuedCertificates(t *testing.T) {
	ca := mtlstest.NewCA(t)
	old := oldStyleCA(t, ca)
	if old.AllowsIntermediates() {
		t.Fatal("a path length 0 CA AllowsIntermediates() = true")
	}
	store := issue(t, old, "micro", "store")
	re, err := old.Resign()
	if err != nil {
		t.Fatalf("Resign() = %v", err)
	}
	if !re.AllowsIntermediates() {
		t.Fatal("re-signed CA AllowsIntermediates() = false")
	}
	hello := issue(t, workloadCA(t, re), "brave-otter", "hello")
	inter := x509.NewCertPool()
	inter.AddCert(mustParse(t, hello.Cert.Certificate[1]))
	for name, leaf := range map[string]*x509.Certificate{"old leaf": store.Cert.Leaf, "workload": hello.Cert.Leaf} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: re.Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s under the re-signed CA: %v", name, err)
		}
	}
	if _, err := hello.Cert.Leaf.Verify(x509.VerifyOptions{Roots: old.Pool(), Intermediates: inter}); err == nil {
		t.Error("workload chain under the path length 0 CA verified, want a refusal")
	}
}

// oldStyleCA returns a CA like the ones NewCA made before intermediates:
// path length 0. It reuses ca's key, re-signing by hand.
func oldStyleCA(t *testing.T, ca *mtls.CA) *mtls.CA {
	t.Helper()
	tmpl := *ca.Cert
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &mtls.CA{Cert: mustParse(t, der), Key: ca.Key}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIntermediateFilesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca := mtlstest.NewCA(t)
	if err := ca.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "workload-ca.pem"), filepath.Join(dir, "workload-ca-key.pem")
	if err := workloadCA(t, ca).WriteIntermediateFiles(certFile, keyFile); err != nil {
		t.Fatalf("WriteIntermediateFiles() = %v", err)
	}
	rootFile, _ := mtls.CAFiles(dir)
	inter, err := mtls.LoadIntermediate(certFile, keyFile, rootFile)
	if err != nil {
		t.Fatalf("LoadIntermediate() = %v", err)
	}
	b := issue(t, inter, "brave-otter", "hello")
	if err := b.WriteFiles(dir, "hello"); err != nil {
		t.Fatal(err)
	}
	loaded, err := mtls.LoadBundle(mtls.BundleFiles(dir, "hello"))
	if err != nil {
		t.Fatalf("LoadBundle(workload chain) = %v", err)
	}
	if len(loaded.Cert.Certificate) != 2 || loaded.Identity.Namespace != "brave-otter" {
		t.Errorf("loaded chain of %d certificates for %s, want 2 for brave-otter/hello", len(loaded.Cert.Certificate), loaded.Identity)
	}
	if _, err := mtls.LoadIntermediate(certFile, keyFile, certFile); err == nil {
		t.Error("LoadIntermediate(with itself as the root) = nil error, want a refusal")
	}
	if _, err := mtls.LoadIntermediate(rootFile, filepath.Join(dir, "ca-key.pem"), rootFile); err == nil {
		t.Error("LoadIntermediate(the root) = nil error, want a refusal")
	}
}
