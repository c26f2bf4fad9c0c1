package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
)

// ResetAdmin gives the bootstrap admin of micro back to the machine's
// operator: it enables the account, sets a new generated password, which
// it returns, and revokes the tokens the account held. An admin that was
// deleted is created again.
//
// It is the way back when no admin can log in, and runs with the platform
// stopped (`micro server reset-admin`), over a store opened in the same
// process as micro/auth. It reads no signing key, so it needs no
// key-encryption key.
func ResetAdmin(ctx context.Context, st Store, logger *slog.Logger) (string, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h, err := newHasher(DefaultHash)
	if err != nil {
		return "", err
	}
	s := &Service{kv: storeclient.New(st, database), logger: logger, now: time.Now, hasher: h, tokenWatch: newBroadcast()}
	s.revocations = newRevocations(s.kv, s.now)
	password := rand.Text()
	a, err := s.resetAdmin(ctx, password)
	if err != nil {
		return "", fmt.Errorf("reset the admin of %q: %w", rules.PlatformNamespace, err)
	}
	if err := s.claimAdmin(ctx, a); err != nil {
		return "", fmt.Errorf("record the admin of %q: %w", rules.PlatformNamespace, err)
	}
	logger.InfoContext(ctx, "admin reset by the operator", "account_id", a.ID, "namespace", rules.PlatformNamespace)
	return password, nil
}

// resetAdmin enables the admin account with password, or creates it.
func (s *Service) resetAdmin(ctx context.Context, password string) (Account, error) {
	hash, err := s.hasher.hash(password)
	if err != nil {
		return Account{}, err
	}
	a, err := s.lookupName(ctx, rules.PlatformNamespace, AdminName)
	if errors.Is(err, ErrNotFound) {
		return s.recreateAdmin(ctx, password)
	}
	if err != nil {
		return Account{}, err
	}
	err = s.revokeAndChange(ctx, a.Account, func(sa *storedAccount) {
		sa.Disabled, sa.SecretHash = false, hash
		if !sa.HasRole(rules.AdminRole) {
			sa.Roles = append(slices.Clone(sa.Roles), rules.AdminRole)
		}
	})
	if err != nil {
		return Account{}, err
	}
	updated, err := s.lookupID(ctx, rules.PlatformNamespace, a.ID)
	return updated.Account, err
}

// recreateAdmin creates the admin account, and micro, when it was deleted.
func (s *Service) recreateAdmin(ctx context.Context, password string) (Account, error) {
	if err := s.createNamespace(ctx, rules.PlatformNamespace, "reset-admin", false); err != nil {
		return Account{}, err
	}
	a, err := s.newAccount(rules.PlatformNamespace, AccountSpec{Name: AdminName, Secret: password, Type: TypeUser, Roles: []string{rules.AdminRole}})
	if err != nil {
		return Account{}, err
	}
	if err := s.insert(ctx, a); err != nil {
		return Account{}, err
	}
	return a.Account, nil
}
