package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"m3o.dev/pkg/rules"
)

const (
	// AdminName is the bootstrap admin's account name in "micro".
	AdminName = "admin"
	// AdminPasswordFile is the file under the data dir that keeps a
	// generated admin password.
	AdminPasswordFile = "admin-password"
)

// bootstrap creates the micro namespace and its admin account on first
// start. An existing admin is never touched, so a restart changes nothing
// and a password changed since stays changed.
func (s *Service) bootstrap(ctx context.Context) error {
	if err := s.createNamespace(ctx, rules.PlatformNamespace, "bootstrap", false); err != nil {
		return err
	}
	_, err := s.lookupName(ctx, rules.PlatformNamespace, AdminName)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	password, generated := s.cfg.AdminPassword, false
	if password == "" {
		password, generated = rand.Text(), true
	}
	spec := AccountSpec{Name: AdminName, Secret: password, Type: TypeUser, Roles: []string{rules.AdminRole}}
	a, err := s.newAccount(rules.PlatformNamespace, spec)
	if err != nil {
		return err
	}
	// The file is written before the account exists, so that a crash in
	// between never leaves an admin whose password nobody kept.
	path := filepath.Join(s.cfg.DataDir, AdminPasswordFile)
	if generated {
		if err := writeSecretFile(path, password); err != nil {
			return err
		}
	}
	if err := s.insertAdmin(ctx, a); err != nil {
		if generated && errors.Is(err, ErrAlreadyExists) {
			// Another replica bootstrapped first; its password stands.
			return os.Remove(path)
		}
		return err
	}
	s.logger.InfoContext(ctx, "bootstrap admin created", "account_id", a.ID, "namespace", rules.PlatformNamespace)
	if generated && s.out != nil {
		fmt.Fprintf(s.out, "Admin account %q in namespace %q has the generated password %s (also in %s)\n",
			AdminName, rules.PlatformNamespace, password, path)
	}
	return nil
}

// insertAdmin stores the new admin account and counts it among micro's
// active admins.
func (s *Service) insertAdmin(ctx context.Context, a storedAccount) error {
	if err := s.insert(ctx, a); err != nil {
		return fmt.Errorf("create admin account: %w", err)
	}
	if err := s.claimAdmin(ctx, a.Account); err != nil {
		return fmt.Errorf("record the admin of %q: %w", rules.PlatformNamespace, err)
	}
	return nil
}

// writeSecretFile writes secret to path, readable by the owner only.
func writeSecretFile(path, secret string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("admin password file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("admin password file: %w", err)
	}
	// A file left by an earlier store may have looser permissions.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("admin password file: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("admin password file: %w", err)
	}
	return f.Close()
}
