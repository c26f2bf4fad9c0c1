package service

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"m3o.dev/pkg/mtls"
)

// certs reads the instance's certificate, key and CA from MICRO_TLS_DIR
// and reads them again whenever one of the files changes, so that the
// runtime renews a certificate by rewriting the files, with no restart.
// Each handshake asks for the current material; the check is a stat of
// three files.
type certs struct {
	dir    string
	expect mtls.Identity
	log    *slog.Logger

	mu    sync.Mutex
	stamp [3]fileStamp
	cur   *material
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	mod  time.Time
	size int64
}

// material is one consistent reading of the files.
type material struct {
	cert  tls.Certificate
	roots *x509.CertPool
}

// newCerts reads the files once, failing when they are missing or do not
// name expect.
func newCerts(dir string, expect mtls.Identity, log *slog.Logger) (*certs, error) {
	c := &certs{dir: dir, expect: expect, log: log}
	if _, err := c.current(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certs) paths() [3]string {
	return [3]string{filepath.Join(c.dir, CAFile), filepath.Join(c.dir, CertFile), filepath.Join(c.dir, KeyFile)}
}

// current returns the material as the files are now. When the files
// changed but do not read as a whole (the runtime renames them one at a
// time), it keeps the last good material and tries again on the next
// handshake.
func (c *certs) current() (*material, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp, err := c.stamps()
	if err == nil && c.cur != nil && stamp == c.stamp {
		return c.cur, nil
	}
	var m *material
	if err == nil {
		m, err = c.read()
	}
	if err != nil {
		if c.cur == nil {
			return nil, err
		}
		c.log.Warn("certificate files unreadable, keeping the ones loaded", "dir", c.dir, "error", err)
		return c.cur, nil
	}
	if c.cur != nil {
		c.log.Info("certificate reloaded", "not_after", m.cert.Leaf.NotAfter)
	}
	c.cur, c.stamp = m, stamp
	return m, nil
}

// stamps stats the three files.
func (c *certs) stamps() ([3]fileStamp, error) {
	var out [3]fileStamp
	for i, p := range c.paths() {
		fi, err := os.Stat(p)
		if err != nil {
			return out, fmt.Errorf("certificates: %w", err)
		}
		out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return out, nil
}

// read parses the files and checks that the certificate chains to the CA
// and names the instance.
func (c *certs) read() (*material, error) {
	var data [3][]byte
	for i, p := range c.paths() {
		var err error
		if data[i], err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
	}
	cert, err := tls.X509KeyPair(data[1], data[2])
	if err != nil {
		return nil, fmt.Errorf("certificates in %s: %w", c.dir, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data[0]) {
		return nil, fmt.Errorf("certificates: no CA certificate in %s", CAFile)
	}
	if err := c.check(cert, roots); err != nil {
		return nil, err
	}
	return &material{cert: cert, roots: roots}, nil
}

// check verifies the instance's own chain, so that a wrong file is named
// at start rather than found by every peer.
func (c *certs) check(cert tls.Certificate, roots *x509.CertPool) error {
	chain, err := parseChain(cert.Certificate)
	if err != nil {
		return err
	}
	id, err := verifyChain(chain, roots, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return fmt.Errorf("certificates in %s: %w", c.dir, err)
	}
	if id != c.expect {
		return fmt.Errorf("certificates in %s name %s, want %s: %w", c.dir, id, c.expect, ErrEnv)
	}
	return nil
}

// parseChain parses DER certificates.
func parseChain(ders [][]byte) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(ders))
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// errNoChain means a peer presented no certificate.
var errNoChain = errors.New("no certificate presented")

// verifyChain verifies chain[0] against roots, with the rest of chain as
// intermediates, for usage, and returns the identity it names.
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage) (mtls.Identity, error) {
	if len(chain) == 0 {
		return mtls.Identity{}, errNoChain
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}
	if _, err := chain[0].Verify(opts); err != nil {
		return mtls.Identity{}, fmt.Errorf("verify certificate: %w", err)
	}
	return mtls.IdentityFromCert(chain[0])
}
