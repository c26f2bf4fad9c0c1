package deploycheck

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCertificateNames checks the database certificates of
// scripts/certs.sh against the host names the production manifests dial:
// the store's DSN and the CockroachDB nodes' join list against node.crt,
// the registry's etcd endpoints against etcd's serving certificate, the
// members' peer URLs against the peer certificate; and the client
// certificates against the users they stand for.
func TestCertificateNames(t *testing.T) {
	certs := t.TempDir()
	runCerts(t, certs)
	objs := renderOverlay(t, "production")
	var store, registry, cockroach, etcd []string
	for _, w := range workloads(t, objs) {
		c := w.template.Spec.Containers[0]
		switch w.name {
		case "store":
			u, err := url.Parse(envOf(c)["MICRO_STORE_DSN"])
			if err != nil {
				t.Fatal(err)
			}
			store = []string{u.Hostname()}
		case "registry":
			registry = hosts(strings.Split(envOf(c)["MICRO_REGISTRY_ETCD_ENDPOINTS"], ","))
		case "cockroachdb":
			cockroach = hosts(flagValues(c.Args, "--join"))
		case "etcd":
			etcd = hosts(regexp.MustCompile(`https://[^,]+`).FindAllString(strings.Join(flagValues(c.Args, "--initial-cluster"), ","), -1))
		}
	}
	tests := []struct {
		cert, ca string
		usage    x509.ExtKeyUsage
		hosts    []string
		cn       string
	}{
		{"cockroachdb/node.crt", "cockroachdb/ca.crt", x509.ExtKeyUsageServerAuth, append(store, cockroach...), "node"},
		{"cockroachdb/node.crt", "cockroachdb/ca.crt", x509.ExtKeyUsageClientAuth, nil, "node"},
		{"cockroachdb/client.store.crt", "cockroachdb/ca.crt", x509.ExtKeyUsageClientAuth, nil, "store"},
		{"cockroachdb/client.root.crt", "cockroachdb/ca.crt", x509.ExtKeyUsageClientAuth, nil, "root"},
		{"etcd/server.pem", "etcd/ca.pem", x509.ExtKeyUsageServerAuth, registry, ""},
		{"etcd/registry.pem", "etcd/ca.pem", x509.ExtKeyUsageClientAuth, nil, "registry"},
		{"etcd/peer.pem", "etcd/peer-ca.pem", x509.ExtKeyUsageServerAuth, etcd, ""},
		{"etcd/peer.pem", "etcd/peer-ca.pem", x509.ExtKeyUsageClientAuth, nil, ""},
	}
	if len(store) == 0 || len(registry) != 3 || len(cockroach) != 3 || len(etcd) != 3 {
		t.Fatalf("host names from the manifests: store %v, registry %v, cockroachdb %v, etcd %v; want one, three, three, three", store, registry, cockroach, etcd)
	}
	for _, tt := range tests {
		cert, roots := loadCert(t, certs, tt.cert), x509.NewCertPool()
		roots.AddCert(loadCert(t, certs, tt.ca))
		for _, host := range append([]string{""}, tt.hosts...) {
			opts := x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{tt.usage}}
			if _, err := cert.Verify(opts); err != nil {
				t.Errorf("%s for %q under %s: %v", tt.cert, host, tt.ca, err)
			}
		}
		if tt.cn != "" && cert.Subject.CommonName != tt.cn {
			t.Errorf("%s: CN %q, want %q", tt.cert, cert.Subject.CommonName, tt.cn)
		}
	}
}

// flagValues returns the comma-separated values of --name=... in args.
func flagValues(args []string, name string) []string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return strings.Split(v, ",")
		}
	}
	return nil
}

// hosts returns the host names of host:port or URL endpoints.
func hosts(endpoints []string) []string {
	var out []string
	for _, e := range endpoints {
		if u, err := url.Parse(e); err == nil && u.Host != "" {
			e = u.Host
		}
		if h, _, err := net.SplitHostPort(e); err == nil {
			out = append(out, h)
		}
	}
	return out
}

func loadCert(t *testing.T, dir, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, filepath.Dir(filepath.Join(dir, name)), filepath.Base(name)))
	if block == nil {
		t.Fatalf("%s: no PEM", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cert
}
