package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/services/internal/corekit"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
	// renewBefore re-issues a certificate this long before it would expire,
	// so a server restarted now and then never runs on an expired one.
	renewBefore = 30 * 24 * time.Hour
)

// pki holds the platform CA and the certificates of the services of one
// data dir: the CA at <data-dir>/ca.pem, service certificates in
// <data-dir>/certs.
type pki struct {
	ca  *mtls.CA
	dir string
}

func openPKI(dataDir string) (*pki, error) {
	ca, err := mtls.LoadOrCreateCA(dataDir, "M3O platform CA", caValidity)
	if err != nil {
		return nil, fmt.Errorf("open the platform CA in %s: %w", dataDir, err)
	}
	if !ca.AllowsIntermediates() {
		// A CA made before the runtime's workload CA existed: the same key
		// signs its certificate again, so everything it issued stays valid.
		if ca, err = ca.Resign(); err != nil {
			return nil, err
		}
		if err := ca.WriteFiles(dataDir); err != nil {
			return nil, err
		}
	}
	return &pki{ca: ca, dir: filepath.Join(dataDir, "certs")}, nil
}

// Files of the runtime's workload CA under the certificate directory.
const (
	workloadCACert = "runtime-ca.pem"
	workloadCAKey  = "runtime-ca-key.pem"
)

// workloadCA returns the runtime's workload CA (see
// mtls.CA.IssueIntermediate), issuing it on first use or when it nears
// expiry or no longer chains to the platform CA. Its key is 0600 in the
// data dir.
func (p *pki) workloadCA() (*mtls.CA, error) {
	certFile, keyFile := filepath.Join(p.dir, workloadCACert), filepath.Join(p.dir, workloadCAKey)
	rootFile, _ := mtls.CAFiles(filepath.Dir(p.dir))
	ca, err := mtls.LoadIntermediate(certFile, keyFile, rootFile)
	if err == nil && time.Until(ca.Cert.NotAfter) > renewBefore {
		return ca, nil
	}
	if ca, err = p.ca.IssueIntermediate("M3O workload CA", certValidity); err != nil {
		return nil, fmt.Errorf("issue the workload CA: %w", err)
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	if err := ca.WriteIntermediateFiles(certFile, keyFile); err != nil {
		return nil, err
	}
	return ca, nil
}

// bundle returns the certificate of a core service, issuing it on first
// use or when it nears expiry. hosts are extra DNS names or IPs it serves.
func (p *pki) bundle(service string, hosts ...string) (*mtls.Bundle, error) {
	caFile, certFile, keyFile := mtls.BundleFiles(p.dir, service)
	b, err := mtls.LoadBundle(caFile, certFile, keyFile)
	if err == nil && fresh(b, p.ca, hosts) {
		return b, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load the %s certificate: %w", service, err)
	}
	id := corekit.Identity(service)
	hosts = append([]string{"127.0.0.1", "::1", "localhost"}, hosts...)
	if b, err = p.ca.Issue(id, hosts, certValidity); err != nil {
		return nil, fmt.Errorf("issue the %s certificate: %w", service, err)
	}
	if err := b.WriteFiles(p.dir, service); err != nil {
		return nil, err
	}
	return b, nil
}

// fresh reports whether a loaded certificate was issued by this CA, still
// has time left and names every host it must serve.
func fresh(b *mtls.Bundle, ca *mtls.CA, hosts []string) bool {
	leaf, err := x509.ParseCertificate(b.Cert.Certificate[0])
	if err != nil || time.Until(leaf.NotAfter) < renewBefore || leaf.CheckSignatureFrom(ca.Cert) != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}
