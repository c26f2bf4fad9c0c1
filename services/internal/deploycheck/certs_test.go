package deploycheck

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
)

// certServices are the identities scripts/certs.sh must issue.
var certServices = []string{"store", "registry", "auth", "config", "runtime", "proxy", "router"}

// publicHost is the name the test asks to have in the proxy's certificate.
const publicHost = "api.example.test"

// runCerts runs scripts/certs.sh into dir.
func runCerts(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if testing.Short() {
			t.Skip("-short: skipping a test that needs openssl")
		}
		t.Fatalf("scripts/certs.sh needs openssl: %v", err)
	}
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts", "certs.sh"), dir, publicHost)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("certs.sh %s %s: %v\n%s", dir, publicHost, err, out)
	}
}

// TestCertsScript checks that what scripts/certs.sh writes is what the
// services load: each bundle carries its identity, two services complete
// an mTLS handshake with it, and the proxy's certificate names the public
// host. A second run keeps the CA and renews the certificates.
func TestCertsScript(t *testing.T) {
	dir := t.TempDir()
	runCerts(t, dir)
	bundles := map[string]*mtls.Bundle{}
	for _, s := range certServices {
		b, err := mtls.LoadBundle(mtls.BundleFiles(dir, s))
		if err != nil {
			t.Fatalf("LoadBundle(%s) = %v", s, err)
		}
		if want := (mtls.Identity{Namespace: "micro", Service: s}); b.Identity != want {
			t.Errorf("LoadBundle(%s).Identity = %s, want %s", s, b.Identity, want)
		}
		bundles[s] = b
	}
	if _, err := mtls.LoadCA(mtls.CAFiles(dir)); err != nil {
		t.Errorf("LoadCA() = %v, want the CA usable by pkg/mtls", err)
	}
	if got := handshake(t, bundles["store"], bundles["auth"]); got != bundles["auth"].Identity {
		t.Errorf("store saw its client as %s, want micro/auth", got)
	}
	if _, err := bundles["proxy"].Cert.Leaf.Verify(x509.VerifyOptions{Roots: bundles["proxy"].Roots, DNSName: publicHost}); err != nil {
		t.Errorf("proxy certificate for %s: %v", publicHost, err)
	}

	checkWorkloadCA(t, dir, bundles["proxy"])

	caBefore, certBefore := readFile(t, dir, "ca.pem"), readFile(t, dir, "store.pem")
	runCerts(t, dir)
	if !bytes.Equal(readFile(t, dir, "ca.pem"), caBefore) {
		t.Error("a second run replaced the CA; clients trusting it would be cut off")
	}
	if bytes.Equal(readFile(t, dir, "store.pem"), certBefore) {
		t.Error("a second run kept the store certificate; want it renewed")
	}
	if _, err := mtls.LoadBundle(mtls.BundleFiles(dir, "store")); err != nil {
		t.Errorf("LoadBundle(store) after a renewal = %v", err)
	}
}

// checkWorkloadCA checks that the runtime's workload CA loads as pkg/mtls
// reads it, signs a tenant's workload that the proxy accepts, and cannot
// vouch for a host name.
func checkWorkloadCA(t *testing.T, dir string, proxy *mtls.Bundle) {
	t.Helper()
	rootFile, _ := mtls.CAFiles(dir)
	inter, err := mtls.LoadIntermediate(filepath.Join(dir, "runtime-ca.pem"), filepath.Join(dir, "runtime-ca-key.pem"), rootFile)
	if err != nil {
		t.Fatalf("LoadIntermediate(runtime-ca.pem) = %v", err)
	}
	hello, err := inter.Issue(mtls.Identity{Namespace: "brave-otter", Service: "hello"}, nil, time.Hour)
	if err != nil {
		t.Fatalf("workload CA Issue() = %v", err)
	}
	if got := handshake(t, proxy, hello); got != hello.Identity {
		t.Errorf("proxy saw the workload as %s, want %s", got, hello.Identity)
	}
	if _, err := hello.Cert.Leaf.Verify(x509.VerifyOptions{Roots: proxy.Roots, Intermediates: pool(inter.Cert), DNSName: "localhost"}); err == nil {
		t.Error("a workload certificate verified for host localhost; the workload CA must sign no host names")
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// handshake runs a TLS handshake between server, as a platform server, and
// client, which expects the server's identity, and returns the identity
// the server verified for the client.
func handshake(t *testing.T, server, client *mtls.Bundle) mtls.Identity {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, server.ServerConfig())
	errc := make(chan error, 1)
	go func() { errc <- tls.Client(b, client.ClientConfig(server.Identity)).Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	id, err := mtls.IdentityFromCert(srv.ConnectionState().PeerCertificates[0])
	if err != nil {
		t.Fatalf("client identity: %v", err)
	}
	return id
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
