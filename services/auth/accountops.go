package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"m3o.dev/pkg/rules"
)

// createAccount creates an account for p. Creating the first account of a
// namespace that does not exist yet creates the namespace with its default
// rule, and only an admin of micro may do that.
func (s *Service) createAccount(ctx context.Context, p principal, spec AccountSpec) (Account, error) {
	ns, err := p.target(spec.Namespace)
	if err != nil {
		return Account{}, err
	}
	if !p.mayCreate(ns, spec) {
		return Account{}, p.deny("create this account", ns)
	}
	if slices.Contains(spec.Roles, rules.AdminRole) && !p.admin(ns) {
		return Account{}, p.deny("grant the admin role", ns)
	}
	exists, err := s.namespaceExists(ctx, ns)
	if err != nil {
		return Account{}, err
	}
	if !exists {
		if !p.platformAdmin() {
			return Account{}, p.deny("create a namespace", ns)
		}
		if err := s.createNamespace(ctx, ns, p.String(), true); err != nil {
			return Account{}, err
		}
	}
	a, err := s.newAccount(ns, spec)
	if err != nil {
		return Account{}, err
	}
	if err := s.insert(ctx, a); err != nil {
		return Account{}, err
	}
	s.logger.InfoContext(ctx, "account created", "account_id", a.ID, "namespace", ns, "by", p.String())
	return a.Account, nil
}

// newAccount builds the stored form of spec in namespace, hashing the
// secret.
func (s *Service) newAccount(namespace string, spec AccountSpec) (storedAccount, error) {
	hash, err := s.hasher.hash(spec.Secret)
	if err != nil {
		return storedAccount{}, err
	}
	typ := spec.Type
	if typ == "" {
		typ = TypeUser
	}
	return storedAccount{
		Account: Account{
			ID: newID(), Name: spec.Name, Namespace: namespace, Type: typ,
			Roles: slices.Clone(spec.Roles), Metadata: spec.Metadata, Created: s.now().UTC(),
		},
		SecretHash: hash,
	}, nil
}

// getAccount returns an account to an admin of its namespace or to itself.
func (s *Service) getAccount(ctx context.Context, p principal, namespace, ref string) (Account, error) {
	ns, err := p.target(namespace)
	if err != nil {
		return Account{}, err
	}
	a, err := s.lookup(ctx, ns, ref)
	if errors.Is(err, ErrNotFound) && !p.mayManageAccounts(ns) {
		// Only those who may list the namespace learn what is missing.
		return Account{}, p.deny("read accounts", ns)
	}
	if err != nil {
		return Account{}, err
	}
	if !p.isSelf(a.Account) && !p.mayManage(a.Account) {
		return Account{}, p.deny("read accounts", ns)
	}
	return a.Account, nil
}

// listAccounts returns a page of a namespace's accounts to its admins.
func (s *Service) listAccounts(ctx context.Context, p principal, namespace string, size uint32, token string) ([]Account, string, error) {
	ns, err := p.target(namespace)
	if err != nil {
		return nil, "", err
	}
	if !p.mayManageAccounts(ns) {
		return nil, "", p.deny("list accounts", ns)
	}
	return s.scanAccounts(ctx, ns, size, token)
}

// deleteAccount removes an account after revoking its tokens, so that a
// failure halfway leaves it revoked rather than alive.
func (s *Service) deleteAccount(ctx context.Context, p principal, namespace, ref string) error {
	a, err := s.managed(ctx, p, namespace, ref, "delete accounts")
	if err != nil {
		return err
	}
	if _, err := s.revokeTokens(ctx, a.Namespace, a.ID); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, tableAccounts, accountKey(a.Namespace, a.Name), nil); err != nil {
		return notFound(err, "account %q in namespace %q", ref, a.Namespace)
	}
	if err := s.kv.Delete(ctx, tableAccountIDs, a.ID, nil); err != nil {
		s.logger.WarnContext(ctx, "remove id of deleted account", "account_id", a.ID, "error", err)
	}
	s.logger.InfoContext(ctx, "account deleted", "account_id", a.ID, "namespace", a.Namespace, "by", p.String())
	return nil
}

// disableAccount stops an account from logging in and revokes its tokens.
func (s *Service) disableAccount(ctx context.Context, p principal, namespace, ref string) error {
	a, err := s.managed(ctx, p, namespace, ref, "disable accounts")
	if err != nil {
		return err
	}
	if err := s.revokeAndChange(ctx, a, func(sa *storedAccount) { sa.Disabled = true }); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "account disabled", "account_id", a.ID, "namespace", a.Namespace, "by", p.String())
	return nil
}

// managed finds the account that p wants to delete or disable: p must
// manage its namespace and may not do it to itself, which would lock it
// out.
func (s *Service) managed(ctx context.Context, p principal, namespace, ref, action string) (Account, error) {
	ns, err := p.target(namespace)
	if err != nil {
		return Account{}, err
	}
	if !p.mayManageAccounts(ns) {
		return Account{}, p.deny(action, ns)
	}
	a, err := s.lookup(ctx, ns, ref)
	if err != nil {
		return Account{}, err
	}
	if !p.mayManage(a.Account) {
		return Account{}, p.deny(action, ns)
	}
	if p.isSelf(a.Account) {
		return Account{}, fmt.Errorf("an account may not %s to itself: %w", action, ErrFailedPrecondition)
	}
	return a.Account, nil
}

// changeSecret replaces a secret. The account itself must give the old
// secret; an admin of its namespace need not. Its refresh tokens stop
// working, its access tokens run out.
func (s *Service) changeSecret(ctx context.Context, p principal, namespace, ref, oldSecret, newSecret string) error {
	ns, err := p.target(namespace)
	if err != nil {
		return err
	}
	a, err := s.lookup(ctx, ns, ref)
	if errors.Is(err, ErrNotFound) && !p.mayManageAccounts(ns) {
		return p.deny("change secrets", ns)
	}
	if err != nil {
		return err
	}
	if err := s.authorizeSecretChange(p, a, oldSecret); err != nil {
		return err
	}
	hash, err := s.hasher.hash(newSecret)
	if err != nil {
		return err
	}
	now := s.now()
	_, err = s.modify(ctx, ns, a.ID, func(sa *storedAccount) error {
		sa.SecretHash, sa.RefreshNotBefore = hash, now
		return nil
	})
	return err
}

// authorizeSecretChange lets admins through and holds the account itself
// to its old secret, counting wrong guesses as failed logins.
func (s *Service) authorizeSecretChange(p principal, a storedAccount, oldSecret string) error {
	if p.mayManage(a.Account) {
		return nil
	}
	if !p.isSelf(a.Account) {
		return p.deny("change secrets", a.Namespace)
	}
	key := limitKey(a.Namespace, a.ID)
	if !s.limiter.allowed(key) {
		return ErrRateLimited
	}
	if !s.hasher.verify(a.SecretHash, oldSecret) {
		s.limiter.fail(key)
		return fmt.Errorf("old secret does not match: %w", ErrPermissionDenied)
	}
	return nil
}

// revokeAccount revokes every token of an account, for itself or an admin
// of its namespace.
func (s *Service) revokeAccount(ctx context.Context, p principal, namespace, id string) error {
	ns, err := p.target(namespace)
	if err != nil {
		return err
	}
	if !p.mayManageAccounts(ns) && !(p.member(ns) && p.Subject == id) {
		return p.deny("revoke other accounts' tokens", ns)
	}
	a, err := s.revokeTokens(ctx, ns, id)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "account tokens revoked", "account_id", a.ID, "namespace", ns, "by", p.String())
	return nil
}

// revokeTokens refuses, from now on, every access and refresh token the
// account already holds.
func (s *Service) revokeTokens(ctx context.Context, namespace, ref string) (Account, error) {
	a, err := s.lookup(ctx, namespace, ref)
	if err != nil {
		return Account{}, err
	}
	return a.Account, s.revokeAndChange(ctx, a.Account, func(*storedAccount) {})
}

// revokeAndChange applies change to a and revokes its tokens in the same
// update, then publishes the revocation.
func (s *Service) revokeAndChange(ctx context.Context, a Account, change func(*storedAccount)) error {
	now := s.now()
	before := revokeTime(now)
	_, err := s.modify(ctx, a.Namespace, a.ID, func(sa *storedAccount) error {
		change(sa)
		sa.TokensNotBefore, sa.RefreshNotBefore = before, now
		return nil
	})
	if err != nil {
		return err
	}
	return s.revocations.record(ctx, a, before)
}
