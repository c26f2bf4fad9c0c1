package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"m3o.dev/pkg/rules"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/internal/storeclient"
)

// storedAccount is an account as kept in the accounts table.
type storedAccount struct {
	Account
	// SecretHash is the argon2id PHC string of the secret.
	SecretHash string `json:"secret_hash"`
	// TokensNotBefore refuses access tokens issued before it; it is a whole
	// second (see revokeTime).
	TokensNotBefore time.Time `json:"tokens_not_before,omitzero"`
	// RefreshNotBefore refuses refresh tokens of logins before it.
	RefreshNotBefore time.Time `json:"refresh_not_before,omitzero"`
	version          uint64
}

// accountRef is the id index entry: where the account of an id is kept.
type accountRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// namespaceRecord marks that a namespace exists.
type namespaceRecord struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// AccountSpec is what creating an account asks for.
type AccountSpec struct {
	// Namespace is the account's namespace; empty means the caller's.
	Namespace string
	// Name is unique within the namespace.
	Name string
	// Secret is the account's secret in the clear.
	Secret string
	// Type is TypeUser or TypeService.
	Type AccountType
	// Roles are granted to the account.
	Roles []string
	// Metadata is free-form string pairs.
	Metadata map[string]string
}

func accountKey(namespace, name string) string { return namespace + "/" + name }

// newID returns a fresh account id: 128 random bits in base32.
func newID() string { return rand.Text() }

// idShaped reports whether ref could be an account id, which spares the
// id index a read for names, such as email addresses, that cannot.
func idShaped(ref string) bool {
	if len(ref) != 26 {
		return false
	}
	for _, c := range ref {
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// lookup finds the account of namespace whose id or, failing that, name is
// ref.
func (s *Service) lookup(ctx context.Context, namespace, ref string) (storedAccount, error) {
	if idShaped(ref) {
		a, err := s.lookupID(ctx, namespace, ref)
		if !errors.Is(err, ErrNotFound) {
			return a, err
		}
	}
	return s.lookupName(ctx, namespace, ref)
}

// lookupID finds the account of namespace with id.
func (s *Service) lookupID(ctx context.Context, namespace, id string) (storedAccount, error) {
	var ref accountRef
	if _, err := s.kv.GetJSON(ctx, tableAccountIDs, id, &ref); err != nil {
		return storedAccount{}, notFound(err, "no account %q in namespace %q", id, namespace)
	}
	if ref.Namespace != namespace {
		return storedAccount{}, fmt.Errorf("no account %q in namespace %q: %w", id, namespace, ErrNotFound)
	}
	a, err := s.lookupName(ctx, namespace, ref.Name)
	if err == nil && a.ID != id {
		// The name was deleted and taken again by another account.
		return storedAccount{}, fmt.Errorf("no account %q in namespace %q: %w", id, namespace, ErrNotFound)
	}
	return a, err
}

// lookupName finds the account of namespace called name.
func (s *Service) lookupName(ctx context.Context, namespace, name string) (storedAccount, error) {
	var a storedAccount
	v, err := s.kv.GetJSON(ctx, tableAccounts, accountKey(namespace, name), &a)
	if err != nil {
		return storedAccount{}, notFound(err, "no account %q in namespace %q", name, namespace)
	}
	a.version = v
	return a, nil
}

// notFound rewrites a store miss as a clean ErrNotFound naming what was
// sought, and passes any other error on.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return err
}

// insert stores a new account and its id index entry. The name is claimed
// first, so a taken name changes nothing.
func (s *Service) insert(ctx context.Context, a storedAccount) error {
	key := accountKey(a.Namespace, a.Name)
	if _, err := s.kv.PutJSON(ctx, tableAccounts, key, a, storeclient.Create(0)); err != nil {
		if errors.Is(err, ErrAlreadyExists) {
			return fmt.Errorf("namespace %q already has an account %q: %w", a.Namespace, a.Name, ErrAlreadyExists)
		}
		return err
	}
	ref := accountRef{Namespace: a.Namespace, Name: a.Name}
	if _, err := s.kv.PutJSON(ctx, tableAccountIDs, a.ID, ref, storeclient.Create(0)); err != nil {
		if derr := s.kv.Delete(ctx, tableAccounts, key, nil); derr != nil {
			s.logger.ErrorContext(ctx, "remove half-created account", "account_id", a.ID, "error", derr)
		}
		return err
	}
	return nil
}

// modify applies change to the account of namespace named ref and stores
// it with compare-and-set, retrying when a concurrent update wins.
func (s *Service) modify(ctx context.Context, namespace, ref string, change func(*storedAccount) error) (storedAccount, error) {
	var a storedAccount
	err := storeclient.Update(ctx, func() error {
		var err error
		if a, err = s.lookup(ctx, namespace, ref); err != nil {
			return err
		}
		if err := change(&a); err != nil {
			return err
		}
		a.version, err = s.kv.PutJSON(ctx, tableAccounts, accountKey(a.Namespace, a.Name), a, storeclient.At(a.version, 0))
		return err
	})
	return a, err
}

// createNamespace marks namespace as existing and, when withDefault,
// installs its default rule. Either may exist already: a create that raced
// another, or one retried after a failure, finishes the job.
func (s *Service) createNamespace(ctx context.Context, namespace, by string, withDefault bool) error {
	rec := namespaceRecord{Created: s.now(), CreatedBy: by}
	if _, err := s.kv.PutJSON(ctx, tableNamespaces, namespace, rec, storeclient.Create(0)); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return fmt.Errorf("create namespace %q: %w", namespace, err)
	}
	if !withDefault {
		return nil
	}
	def := rules.NamespaceDefault(namespace)
	if _, err := s.kv.PutJSON(ctx, tableRules, ruleKey(namespace, def.ID), storedRule(def), storeclient.Create(0)); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return fmt.Errorf("install default rule of %q: %w", namespace, err)
	}
	s.rulesChanged(ctx, namespace)
	s.defaultQuota(ctx, namespace)
	s.logger.InfoContext(ctx, "namespace created", "namespace", namespace, "by", by)
	return nil
}

// quotaTimeout bounds the runtime's answer about a new namespace's quota.
const quotaTimeout = 5 * time.Second

// defaultQuota has the runtime record the platform's default quota for a
// new namespace. A failure is only logged: a namespace the runtime has no
// record of is held to the default all the same.
func (s *Service) defaultQuota(ctx context.Context, namespace string) {
	if s.quotas == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), quotaTimeout)
	defer cancel()
	_, err := s.quotas.SetQuota(ctx, &runtimev1.SetQuotaRequest{Namespace: namespace, Quota: &runtimev1.Quota{}})
	if err != nil {
		s.logger.WarnContext(ctx, "record a new namespace's default quota", "namespace", namespace, "error", err)
	}
}

// namespaceExists reports whether namespace has been created.
func (s *Service) namespaceExists(ctx context.Context, namespace string) (bool, error) {
	var rec namespaceRecord
	_, err := s.kv.GetJSON(ctx, tableNamespaces, namespace, &rec)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// pageToken is the List page token: the store's token, bound to the
// namespace it pages through so that it cannot be replayed elsewhere.
type pageToken struct {
	Namespace string `json:"ns"`
	Store     string `json:"st"`
}

func encodePageToken(namespace, store string) string {
	if store == "" {
		return ""
	}
	b, _ := json.Marshal(pageToken{Namespace: namespace, Store: store})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the store's token inside tok, which must have
// been issued for namespace.
func decodePageToken(namespace, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	var pt pageToken
	if err != nil || json.Unmarshal(b, &pt) != nil || pt.Namespace != namespace || pt.Store == "" {
		return "", invalid.Field("page_token", "is not a page token of this namespace's list")
	}
	return pt.Store, nil
}

// scanAccounts returns a page of namespace's accounts by name.
func (s *Service) scanAccounts(ctx context.Context, namespace string, size uint32, token string) ([]Account, string, error) {
	storeToken, err := decodePageToken(namespace, token)
	if err != nil {
		return nil, "", err
	}
	prefix := namespace + "/"
	recs, next, err := s.kv.Scan(ctx, tableAccounts, storeclient.ScanOptions{Prefix: prefix, Limit: size, PageToken: storeToken})
	if errors.Is(err, storeclient.ErrRefused) {
		// Only the page token inside came from the caller.
		return nil, "", invalid.Field("page_token", "is not a page token of this namespace's list")
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]Account, 0, len(recs))
	for _, r := range recs {
		var a storedAccount
		// The prefix check is belt and braces: the page must never hold
		// another namespace's account, whatever the store does.
		if !strings.HasPrefix(r.Key, prefix) || storeclient.DecodeJSON(r.Value, &a) != nil || a.Namespace != namespace {
			continue
		}
		out = append(out, a.Account)
	}
	return out, encodePageToken(namespace, next), nil
}
