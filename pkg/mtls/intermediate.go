package mtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// workloadTrustDomain is the only URI host a workload CA may sign for: the
// host of every identity URI.
const workloadTrustDomain = "m3o"

// IssueIntermediate creates a CA below the platform CA for one job: signing
// the leaf certificates of tenants' workloads, as the runtime does. It has
// as little power as that needs:
//
//   - path length 0, so it signs leaves only, never another CA;
//   - extended key usages server and client authentication only;
//   - name constraints that permit platform identity URIs and forbid every
//     DNS name and IP address, so nothing it signs can pass for a host,
//     such as the proxy's public port, to a client checking host names;
//   - and every peer refuses a micro identity it signed (see
//     Bundle.ServerConfig), so it can never mint a core service.
//
// Which namespace and service it signs is a policy the runtime applies in
// code before calling Issue. ca must be the platform CA.
func (ca *CA) IssueIntermediate(name string, validity time.Duration) (*CA, error) {
	if ca.Root != nil {
		return nil, errors.New("issue intermediate: only the platform CA issues intermediates")
	}
	if name == "" || validity <= 0 {
		return nil, errors.New("issue intermediate: need a name and a positive validity")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue intermediate: generate key: %w", err)
	}
	tmpl, err := ca.intermediateTemplate(name, validity)
	if err != nil {
		return nil, fmt.Errorf("issue intermediate: %w", err)
	}
	tmpl.SubjectKeyId = keyID(&key.PublicKey)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue intermediate: sign: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue intermediate: %w", err)
	}
	return &CA{Cert: cert, Key: key, Root: ca.Cert}, nil
}

// intermediateTemplate is the certificate of a workload CA.
func (ca *CA) intermediateTemplate(name string, validity time.Duration) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"M3O"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// "invalid" is a reserved top-level domain: permitting only names
		// under it permits no name anyone can reach.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"invalid"},
		ExcludedIPRanges: []*net.IPNet{
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		},
		PermittedURIDomains: []string{workloadTrustDomain},
	}, nil
}

// IsIntermediate reports whether ca is a CA below the platform CA.
func (ca *CA) IsIntermediate() bool { return ca.Root != nil }

// AllowsIntermediates reports whether the platform CA's certificate lets an
// intermediate sit below it. CAs created before the runtime's workload CA
// existed have a path length of 0.
func (ca *CA) AllowsIntermediates() bool {
	return ca.Cert.BasicConstraintsValid && (ca.Cert.MaxPathLen < 0 || ca.Cert.MaxPathLen >= RootMaxPathLen)
}

// Resign returns the platform CA with its certificate signed again by its
// own key, with the same subject, key and validity and a path length of
// RootMaxPathLen. Every certificate the old one issued stays valid under
// it, so an existing platform gains the runtime's workload CA without
// reissuing anything or changing the key clients trust.
func (ca *CA) Resign() (*CA, error) {
	if ca.Root != nil {
		return nil, errors.New("resign: only the platform CA is re-signed")
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("resign CA: %w", err)
	}
	old := ca.Cert
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: old.Subject, NotBefore: old.NotBefore, NotAfter: old.NotAfter,
		KeyUsage: old.KeyUsage, BasicConstraintsValid: true, IsCA: true,
		MaxPathLen: RootMaxPathLen, SubjectKeyId: old.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.Key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("resign CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("resign CA: %w", err)
	}
	return &CA{Cert: cert, Key: ca.Key, now: ca.now}, nil
}

// WriteIntermediateFiles writes an intermediate's certificate (mode 0644)
// and key (mode 0600) to the files named, creating neither directory.
func (ca *CA) WriteIntermediateFiles(certFile, keyFile string) error {
	if ca.Root == nil {
		return errors.New("write intermediate: not an intermediate CA")
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return fmt.Errorf("write intermediate: %w", err)
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write intermediate: %w", err)
	}
	if err := writeAtomic(certFile, ca.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("write intermediate: %w", err)
	}
	return nil
}

// LoadIntermediate reads an intermediate CA written by
// WriteIntermediateFiles and checks that the platform CA in rootFile
// signed it and that it can sign leaves only.
func LoadIntermediate(certFile, keyFile, rootFile string) (*CA, error) {
	ca, err := LoadCA(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load intermediate: %w", err)
	}
	rootPEM, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, fmt.Errorf("load intermediate: %w", err)
	}
	_, roots, err := parseCAs(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("load intermediate: %w", err)
	}
	for _, root := range roots {
		if ca.Cert.CheckSignatureFrom(root) == nil {
			ca.Root = root
		}
	}
	switch {
	case ca.Root == nil:
		return nil, fmt.Errorf("load intermediate %s: not signed by the platform CA in %s", certFile, rootFile)
	case ca.Cert.MaxPathLen != 0 || !ca.Cert.MaxPathLenZero:
		return nil, fmt.Errorf("load intermediate %s: its path length is not 0, so it could sign other CAs", certFile)
	}
	return ca, nil
}
