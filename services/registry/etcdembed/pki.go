package etcdembed

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
)

// etcd has a trust of its own, apart from the platform CA: the platform CA
// will sign certificates for tenants' workloads, and none of those may ever
// reach etcd. Only the registry holds a client certificate of the etcd CA.
const (
	caName       = "M3O etcd CA"
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
)

// TLSFiles are the PEM files of one side of etcd's TLS.
type TLSFiles struct {
	// CAFile is the etcd CA, the only issuer the other side accepts.
	CAFile string
	// CertFile and KeyFile are this side's certificate and key.
	CertFile, KeyFile string
}

// PKI is etcd's trust in a directory: its CA, the member's certificate
// (server and peer) and the registry's client certificate.
type PKI struct {
	// Member is the certificate the embedded member serves clients and
	// peers with.
	Member TLSFiles
	// Client is the registry's client certificate, the one credential etcd
	// accepts.
	Client TLSFiles
}

// LoadOrCreatePKI returns the etcd PKI in dir, creating the CA once and the
// certificates when they are missing. Keys are written 0600.
func LoadOrCreatePKI(dir string) (PKI, error) {
	ca, err := mtls.LoadOrCreateCA(dir, caName, caValidity)
	if err != nil {
		return PKI{}, fmt.Errorf("etcd CA in %s: %w", dir, err)
	}
	caFile, _ := mtls.CAFiles(dir)
	p := PKI{}
	for _, side := range []struct {
		name  string
		files *TLSFiles
	}{{"member", &p.Member}, {"registry", &p.Client}} {
		if err := issue(ca, dir, side.name); err != nil {
			return PKI{}, err
		}
		_, cert, key := mtls.BundleFiles(dir, side.name)
		*side.files = TLSFiles{CAFile: caFile, CertFile: cert, KeyFile: key}
	}
	return p, nil
}

// issue writes the certificate of name unless it is there already.
func issue(ca *mtls.CA, dir, name string) error {
	_, certFile, _ := mtls.BundleFiles(dir, name)
	if _, err := os.Stat(certFile); err == nil {
		return nil
	}
	id := mtls.Identity{Namespace: platform.Namespace, Service: "etcd-" + name}
	b, err := ca.Issue(id, []string{"127.0.0.1", "::1", "localhost"}, certValidity)
	if err != nil {
		return fmt.Errorf("issue the etcd %s certificate: %w", name, err)
	}
	return b.WriteFiles(dir, name)
}

// ClientConfig returns the TLS configuration of a client of etcd: its
// certificate, and only the etcd CA trusted.
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	pem, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("etcd CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("etcd CA %s holds no certificate", filepath.Base(f.CAFile))
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}, nil
}
