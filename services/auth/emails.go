package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
)

// The email index, table emails: for each lower-cased email, the accounts
// named by it, wherever they are. It is what lets a person who signed up
// log in by email alone, and what keeps a second account from taking the
// email of one made by sign-up. Admins may still give one email accounts
// in several namespaces, among accounts they make; logging in by such an
// email then needs the namespace.

// emailOwner is one account named by an email.
type emailOwner struct {
	// Namespace and ID locate the account.
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	// Signup marks the account sign-up made; the email is then its alone.
	Signup bool `json:"signup,omitempty"`
}

// emailRecord is the index entry of one email.
type emailRecord struct {
	Owners  []emailOwner `json:"owners"`
	version uint64
}

// emailIndexDone is the key, in the meta table, that records that the
// accounts made before the index existed have been indexed.
const emailIndexDone = "email-index"

// metaRecord marks a one-time task done.
type metaRecord struct {
	Done time.Time `json:"done"`
}

// emailKey returns the index key of an account name, and whether the name
// is an email at all.
func emailKey(name string) (string, bool) {
	if !strings.Contains(name, "@") {
		return "", false
	}
	return strings.ToLower(name), true
}

// emailOwners returns the accounts named by email, a lower-cased address.
func (s *Service) emailOwners(ctx context.Context, email string) (emailRecord, error) {
	var rec emailRecord
	v, err := s.kv.GetJSON(ctx, tableEmails, email, &rec)
	switch {
	case errors.Is(err, ErrNotFound):
		return emailRecord{}, nil
	case err != nil:
		return emailRecord{}, err
	}
	rec.version = v
	return rec, nil
}

// updateEmail applies change to the index entry of email and stores it,
// retrying when a concurrent update wins; errUnchanged from change stores
// nothing.
func (s *Service) updateEmail(ctx context.Context, email string, change func(*emailRecord) error) error {
	err := storeclient.Update(ctx, func() error {
		rec, err := s.emailOwners(ctx, email)
		if err != nil {
			return err
		}
		if err := change(&rec); err != nil {
			return err
		}
		opts := storeclient.At(rec.version, 0)
		if rec.version == 0 {
			opts = storeclient.Create(0)
		}
		_, err = s.kv.PutJSON(ctx, tableEmails, email, rec, opts)
		return err
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// errUnchanged ends an update that has nothing to change.
var errUnchanged = errors.New("unchanged")

// indexEmail records that account a is named by its email, if its name is
// one. An account made by sign-up must be the email's only one; no other
// account may take the email of one made by sign-up.
func (s *Service) indexEmail(ctx context.Context, a Account, signup bool) error {
	key, ok := emailKey(a.Name)
	if !ok {
		return nil
	}
	return s.updateEmail(ctx, key, func(rec *emailRecord) error {
		for _, o := range rec.Owners {
			if o.ID == a.ID {
				return errUnchanged
			}
			if signup {
				return fmt.Errorf("there is already an account named %s: log in with it: %w", a.Name, ErrAlreadyExists)
			}
			if o.Signup {
				return fmt.Errorf("%s is the email of an account that signed up, which no other account may take: %w", a.Name, ErrAlreadyExists)
			}
		}
		rec.Owners = append(rec.Owners, emailOwner{Namespace: a.Namespace, ID: a.ID, Signup: signup})
		return nil
	})
}

// unindexEmail forgets that account a is named by its email.
func (s *Service) unindexEmail(ctx context.Context, a Account) error {
	key, ok := emailKey(a.Name)
	if !ok {
		return nil
	}
	return s.updateEmail(ctx, key, func(rec *emailRecord) error {
		n := len(rec.Owners)
		rec.Owners = slices.DeleteFunc(rec.Owners, func(o emailOwner) bool { return o.ID == a.ID })
		if len(rec.Owners) == n {
			return errUnchanged
		}
		return nil
	})
}

// insertIndexed stores a new account made by an admin or a core service,
// indexing its email first so that the email of an account made by
// sign-up is refused before anything is written.
func (s *Service) insertIndexed(ctx context.Context, a storedAccount) error {
	if err := s.indexEmail(ctx, a.Account, false); err != nil {
		return err
	}
	if err := s.insert(ctx, a); err != nil {
		if uerr := s.unindexEmail(ctx, a.Account); uerr != nil {
			s.logger.WarnContext(ctx, "forget the email of an account not created", "account_id", a.ID, "error", uerr)
		}
		return err
	}
	return nil
}

// loginTarget resolves the namespace of a login that names none: an email
// of exactly one account logs in to that account, wherever it is; an
// email of accounts in several namespaces needs the namespace; anything
// else logs in to micro. It returns the namespace and the reference to
// log in with.
func (s *Service) loginTarget(ctx context.Context, namespace, ref string) (string, string, error) {
	if namespace != "" {
		return namespace, ref, nil
	}
	key, ok := emailKey(ref)
	if !ok {
		return rules.PlatformNamespace, ref, nil
	}
	rec, err := s.emailOwners(ctx, key)
	switch {
	case err != nil:
		return "", "", err
	case len(rec.Owners) == 0:
		return rules.PlatformNamespace, ref, nil
	case len(rec.Owners) == 1:
		return rec.Owners[0].Namespace, rec.Owners[0].ID, nil
	}
	return "", "", fmt.Errorf("%s names accounts in several namespaces: give the namespace to log in to: %w", ref, ErrFailedPrecondition)
}

// indexExistingEmails indexes, once per platform, the accounts made before
// the email index existed. Replicas starting together may both do it;
// indexing is idempotent.
func (s *Service) indexExistingEmails(ctx context.Context) error {
	var done metaRecord
	_, err := s.kv.GetJSON(ctx, tableMeta, emailIndexDone, &done)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	for r, err := range s.kv.Records(ctx, tableAccounts, storeclient.ScanOptions{Limit: 1000}) {
		if err != nil {
			return err
		}
		var a storedAccount
		if storeclient.DecodeJSON(r.Value, &a) != nil {
			continue
		}
		if err := s.indexEmail(ctx, a.Account, false); err != nil && !errors.Is(err, ErrAlreadyExists) {
			return err
		}
	}
	_, err = s.kv.PutJSON(ctx, tableMeta, emailIndexDone, metaRecord{Done: s.now().UTC()}, storeclient.Create(0))
	if errors.Is(err, ErrAlreadyExists) {
		return nil
	}
	return err
}
