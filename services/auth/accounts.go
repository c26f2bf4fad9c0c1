package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
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
		return Account{}, p.deny("create this account in namespace %q", ns)
	}
	if slices.Contains(spec.Roles, rules.AdminRole) && !p.admin(ns) {
		return Account{}, p.deny("grant the admin role in namespace %q", ns)
	}
	if err := s.ensureNamespace(ctx, p, ns); err != nil {
		return Account{}, err
	}
	if err := s.nameFree(ctx, ns, spec.Name); err != nil {
		return Account{}, err
	}
	a, err := s.newAccount(ns, spec)
	if err != nil {
		return Account{}, err
	}
	if err := s.insertIndexed(ctx, a); err != nil {
		return Account{}, err
	}
	if err := s.claimAdmin(ctx, a.Account); err != nil {
		return Account{}, err
	}
	s.logger.InfoContext(ctx, "account created", "account_id", a.ID, "namespace", ns, "by", p.String())
	return a.Account, nil
}

// ensureNamespace creates namespace, with its default rule, when it does
// not exist yet; only an admin of micro may.
func (s *Service) ensureNamespace(ctx context.Context, p principal, namespace string) error {
	exists, err := s.namespaceExists(ctx, namespace)
	if err != nil || exists {
		return err
	}
	if !p.platformAdmin() {
		return p.deny("create namespace %q", namespace)
	}
	return s.createNamespace(ctx, namespace, p.String(), true)
}

// nameFree refuses a name that is the id of another account of
// namespace: lookups try a reference as an id first, so an account of that
// name could never be found by it. Ids are never reused, so an id-shaped
// name that is free now stays free of clashes.
func (s *Service) nameFree(ctx context.Context, namespace, name string) error {
	if !idShaped(name) {
		return nil
	}
	_, err := s.lookupID(ctx, namespace, name)
	switch {
	case err == nil:
		return fmt.Errorf("%q is the id of another account of namespace %q, so it cannot be a name there: %w", name, namespace, ErrAlreadyExists)
	case errors.Is(err, ErrNotFound):
		return nil
	}
	return err
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
		return Account{}, p.deny("read the accounts of namespace %q", ns)
	}
	if err != nil {
		return Account{}, err
	}
	if !p.isSelf(a.Account) && !p.mayManage(a.Account) {
		return Account{}, p.deny("read the accounts of namespace %q", ns)
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
		return nil, "", p.deny("list the accounts of namespace %q", ns)
	}
	return s.scanAccounts(ctx, ns, size, token)
}

// deleteAccount removes an account after revoking its tokens, so that a
// failure halfway leaves it revoked rather than alive. The last active
// admin of micro cannot be deleted.
func (s *Service) deleteAccount(ctx context.Context, p principal, namespace, ref string) error {
	a, err := s.managed(ctx, p, namespace, ref, "delete")
	if err != nil {
		return err
	}
	err = storeclient.Update(ctx, func() error {
		cur, err := s.lookupID(ctx, a.Namespace, a.ID)
		if err != nil {
			return err
		}
		if err := s.releaseAdmin(ctx, cur.Account); err != nil {
			return err
		}
		v, err := s.revokeAt(ctx, cur, func(*storedAccount) {})
		if err != nil {
			return err
		}
		return s.kv.Delete(ctx, tableAccounts, accountKey(a.Namespace, a.Name), &v)
	})
	if err != nil {
		return notFound(err, "no account %q in namespace %q", ref, a.Namespace)
	}
	s.forgetIndexes(ctx, a)
	s.logger.InfoContext(ctx, "account deleted", "account_id", a.ID, "namespace", a.Namespace, "by", p.String())
	return nil
}

// forgetIndexes removes a deleted account from the id and email indexes.
// The account is gone either way, so a failure is logged, not returned: a
// stale id entry is treated as missing, while a stale email entry may make
// a login by that email ask for its namespace, or keep the email from
// signing up, until an operator removes it.
func (s *Service) forgetIndexes(ctx context.Context, a Account) {
	if err := s.kv.Delete(ctx, tableAccountIDs, a.ID, nil); err != nil {
		s.logger.WarnContext(ctx, "remove id of deleted account", "account_id", a.ID, "error", err)
	}
	if err := s.unindexEmail(ctx, a); err != nil {
		s.logger.WarnContext(ctx, "remove email of deleted account", "account_id", a.ID, "error", err)
	}
}

// disableAccount stops an account from logging in and revokes its tokens.
// The last active admin of micro cannot be disabled.
func (s *Service) disableAccount(ctx context.Context, p principal, namespace, ref string) error {
	a, err := s.managed(ctx, p, namespace, ref, "disable")
	if err != nil {
		return err
	}
	err = storeclient.Update(ctx, func() error {
		cur, err := s.lookupID(ctx, a.Namespace, a.ID)
		if err != nil {
			return err
		}
		if err := s.releaseAdmin(ctx, cur.Account); err != nil {
			return err
		}
		// Written at the version read before the release: an enable in
		// between must make this disable start over.
		_, err = s.revokeAt(ctx, cur, func(sa *storedAccount) { sa.Disabled = true })
		return err
	})
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "account disabled", "account_id", a.ID, "namespace", a.Namespace, "by", p.String())
	return nil
}

// enableAccount lets a disabled account log in again, for an admin of its
// namespace or of micro. The tokens it held stay revoked.
func (s *Service) enableAccount(ctx context.Context, p principal, namespace, ref string) (Account, error) {
	ns, err := p.target(namespace)
	if err != nil {
		return Account{}, err
	}
	if !p.admin(ns) {
		return Account{}, p.deny("enable accounts of namespace %q", ns)
	}
	a, err := s.lookup(ctx, ns, ref)
	if err != nil {
		return Account{}, err
	}
	// Written even when already active, so that a disable racing this one
	// finds the account changed and decides again.
	updated, err := s.modify(ctx, ns, a.ID, func(sa *storedAccount) error {
		sa.Disabled = false
		return nil
	})
	if err != nil {
		return Account{}, err
	}
	if err := s.claimAdmin(ctx, updated.Account); err != nil {
		return Account{}, err
	}
	s.logger.InfoContext(ctx, "account enabled", "account_id", a.ID, "namespace", ns, "by", p.String())
	return updated.Account, nil
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
		return Account{}, p.deny("%s accounts of namespace %q", action, ns)
	}
	a, err := s.lookup(ctx, ns, ref)
	if err != nil {
		return Account{}, err
	}
	if !p.mayManage(a.Account) {
		return Account{}, p.deny("%s this account of namespace %q", action, ns)
	}
	if p.isSelf(a.Account) {
		return Account{}, fmt.Errorf("an account may not %s itself: %w", action, ErrFailedPrecondition)
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
		return p.deny("change the secrets of namespace %q", ns)
	}
	if err != nil {
		return err
	}
	if err := s.authorizeSecretChange(ctx, p, a, oldSecret); err != nil {
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

// authorizeSecretChange lets admins set other accounts' secrets and holds
// an account changing its own to its old secret, admin or not, so that a
// stolen access token cannot take the account over; wrong guesses count as
// failed logins.
func (s *Service) authorizeSecretChange(ctx context.Context, p principal, a storedAccount, oldSecret string) error {
	if !p.isSelf(a.Account) {
		if p.mayManage(a.Account) {
			return nil
		}
		return p.deny("change another account's secret in namespace %q", a.Namespace)
	}
	keys, addr := []string{limitKey(a.Namespace, a.ID)}, clientAddress(ctx)
	if s.limiter.refused(keys[0], addr) {
		return ErrRateLimited
	}
	if !s.hasher.verify(a.SecretHash, oldSecret) {
		s.limiter.fail(ctx, keys, addr, lockoutSubject(a.Namespace, a)...)
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
		return p.deny("revoke other accounts' tokens in namespace %q", ns)
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
	return storeclient.Update(ctx, func() error {
		cur, err := s.lookupID(ctx, a.Namespace, a.ID)
		if err != nil {
			return err
		}
		_, err = s.revokeAt(ctx, cur, change)
		return err
	})
}

// revokeAt applies change to a and revokes its tokens, writing the account
// with compare-and-set at the version it was read at, then publishes the
// revocation. It returns the account's new version; a lost race wraps
// ErrConflict.
func (s *Service) revokeAt(ctx context.Context, a storedAccount, change func(*storedAccount)) (uint64, error) {
	now := s.now()
	before := revokeTime(now)
	change(&a)
	a.TokensNotBefore, a.RefreshNotBefore = before, now
	v, err := s.kv.PutJSON(ctx, tableAccounts, accountKey(a.Namespace, a.Name), a, storeclient.At(a.version, 0))
	if err != nil {
		return 0, err
	}
	if err := s.revocations.record(ctx, a.Account, before); err != nil {
		return 0, err
	}
	s.tokensChanged(ctx)
	return v, nil
}
