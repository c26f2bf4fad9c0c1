package mtls

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File names used under a certificate directory. ca.pem is the file that
// clients are told to trust.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// CAFiles returns the paths of the CA certificate and key under dir.
func CAFiles(dir string) (certFile, keyFile string) {
	return filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
}

// BundleFiles returns the paths under dir of the CA certificate and of the
// certificate and key of the bundle called name: ca.pem, <name>.pem and
// <name>-key.pem.
func BundleFiles(dir, name string) (caFile, certFile, keyFile string) {
	return filepath.Join(dir, CACertFile), filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
}

// WriteFiles writes the CA certificate (mode 0644) and key (mode 0600) under
// dir, named as CAFiles says. The directory is created 0700 if missing.
func (ca *CA) WriteFiles(dir string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	certFile, keyFile := CAFiles(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	// The key goes first: a certificate on disk without its key would look
	// like a CA that cannot issue.
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	if err := writeAtomic(certFile, ca.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	return nil
}

// LoadCA reads a CA written by WriteFiles.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	pair, err := loadKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", certFile, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !pair.Leaf.IsCA {
		return nil, fmt.Errorf("load CA %s: not a CA certificate and signing key", certFile)
	}
	return &CA{Cert: pair.Leaf, Key: signer}, nil
}

// LoadOrCreateCA loads the CA under dir, or creates and writes one named
// name when dir holds none, which is what a first start of `micro server`
// needs.
func LoadOrCreateCA(dir, name string, validity time.Duration) (*CA, error) {
	certFile, keyFile := CAFiles(dir)
	ca, err := LoadCA(certFile, keyFile)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ca, err
	}
	if ca, err = NewCA(name, validity); err != nil {
		return nil, err
	}
	if err := ca.WriteFiles(dir); err != nil {
		return nil, err
	}
	return ca, nil
}

// WriteFiles writes the bundle under dir as BundleFiles names them: the CA
// certificate and the bundle's certificate (mode 0644) and its key (mode
// 0600). The directory is created 0700 if missing.
func (b *Bundle) WriteFiles(dir, name string) error {
	caFile, certFile, keyFile := BundleFiles(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write bundle %s: %w", name, err)
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{keyFile, b.keyPEM, 0o600},
		{certFile, b.certPEM, 0o644},
		{caFile, b.caPEM, 0o644},
	} {
		if err := writeAtomic(f.path, f.data, f.mode); err != nil {
			return fmt.Errorf("write bundle %s: %w", name, err)
		}
	}
	return nil
}

// PEM returns the bundle's certificate chain, private key and CA
// certificate, PEM encoded, as WriteFiles writes them: for handing to a
// workload that loads them itself.
func (b *Bundle) PEM() (certPEM, keyPEM, caPEM []byte) {
	return b.certPEM, b.keyPEM, b.caPEM
}

// LoadBundle reads a bundle from its CA certificate, certificate and key
// files, and checks that the certificate carries a platform identity and
// chains to the CA.
func LoadBundle(caFile, certFile, keyFile string) (*Bundle, error) {
	var data [3][]byte
	for i, name := range []string{caFile, certFile, keyFile} {
		var err error
		if data[i], err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("load bundle: %w", err)
		}
	}
	b, err := newBundle(data[1], data[2], data[0])
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", certFile, err)
	}
	return b, nil
}

// writeAtomic writes data to path through a temporary file and a rename, so
// that a crash never leaves a half-written key behind, and so that the file
// never exists with a wider mode than asked for.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
