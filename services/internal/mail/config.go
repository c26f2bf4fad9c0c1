package mail

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Config chooses and configures a Sender, as `micro server` and the auth
// service's flags give it: --smtp-address, --smtp-from, --smtp-ca-file,
// and the credentials from MICRO_SMTP_USERNAME and MICRO_SMTP_PASSWORD,
// which main reads.
type Config struct {
	// SMTP is the server to send through; an empty Address writes to
	// the outbox instead.
	SMTP SMTPConfig
	// CAFile, when set, is a PEM file of certificates trusted for the SMTP
	// server's STARTTLS besides the system's roots: a private CA, or a test
	// server's own certificate. It replaces SMTP.TLS.
	CAFile string
	// DataDir holds the outbox, <DataDir>/outbox, when there is no server.
	DataDir string
}

// Environment variables of the SMTP credentials.
const (
	UsernameEnv = "MICRO_SMTP_USERNAME"
	PasswordEnv = "MICRO_SMTP_PASSWORD"
)

// DefaultFrom is the sender when none is configured.
const DefaultFrom = "no-reply@m3o.localhost"

// New returns the Sender cfg describes and a sentence saying where mail
// goes, for the operator to read once at start; it never names the
// password.
func New(cfg Config) (Sender, string, error) {
	if cfg.SMTP.From == "" {
		cfg.SMTP.From = DefaultFrom
	}
	if cfg.SMTP.Address != "" {
		if cfg.CAFile != "" {
			tlsCfg, err := trusting(cfg.CAFile)
			if err != nil {
				return nil, "", err
			}
			cfg.SMTP.TLS = tlsCfg
		}
		s, err := NewSMTP(cfg.SMTP)
		if err != nil {
			return nil, "", err
		}
		return s, fmt.Sprintf("mail goes through %s as %s", cfg.SMTP.Address, cfg.SMTP.From), nil
	}
	if cfg.DataDir == "" {
		return nil, "", errors.New("no SMTP address and no data dir for an outbox")
	}
	o, err := NewOutbox(filepath.Join(cfg.DataDir, "outbox"), cfg.SMTP.From)
	if err != nil {
		return nil, "", err
	}
	return o, fmt.Sprintf("no --smtp-address: mail is written to %s instead of sent", o.Dir()), nil
}

// trusting returns a TLS configuration that trusts the system's roots and
// the certificates in the PEM file path.
func trusting(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SMTP CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("SMTP CA file %s holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool}, nil
}
