package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"m3o.dev/pkg/rules"
	"m3o.dev/services/internal/storeclient"
)

// adminsKey is the key, in the admins table, of the admin set of micro.
const adminsKey = rules.PlatformNamespace

// adminSet is the record of the active admins of "micro", by account id.
// It is what keeps the platform from losing its last admin: disabling or
// deleting an admin of micro first takes it out of this one record with
// compare-and-set, refused when no other active admin would remain, and
// only then changes the account. Of two admins disabling each other at the
// same moment, one loses the compare-and-set, finds itself the last, and
// is refused.
//
// An id is added after its account became an active admin, so the set may
// briefly name an account that is not (yet) one; every decision checks the
// accounts the set names, and never counts one that is not an active
// admin.
type adminSet struct {
	IDs     []string `json:"ids"`
	version uint64   // 0 until stored
}

// platformAdmin reports whether a is an admin of micro, active or not.
func platformAdmin(a Account) bool {
	return a.Namespace == rules.PlatformNamespace && a.HasRole(rules.AdminRole)
}

// loadAdmins reads the admin set, or builds it from the accounts of micro
// when none is stored yet, as on a platform that predates it.
func (s *Service) loadAdmins(ctx context.Context) (adminSet, error) {
	var set adminSet
	v, err := s.kv.GetJSON(ctx, tableAdmins, adminsKey, &set)
	switch {
	case err == nil:
		set.version = v
		return set, nil
	case !errors.Is(err, ErrNotFound):
		return adminSet{}, err
	}
	recs, err := s.kv.ScanAll(ctx, tableAccounts, rules.PlatformNamespace+"/")
	if err != nil {
		return adminSet{}, err
	}
	for _, r := range recs {
		var a storedAccount
		if storeclient.DecodeJSON(r.Value, &a) == nil && platformAdmin(a.Account) && !a.Disabled {
			set.IDs = append(set.IDs, a.ID)
		}
	}
	return set, nil
}

// storeAdmins writes set with compare-and-set against the version it was
// read at; a lost race wraps ErrConflict.
func (s *Service) storeAdmins(ctx context.Context, set adminSet) error {
	opts := storeclient.At(set.version, 0)
	if set.version == 0 {
		opts = storeclient.Create(0)
	}
	_, err := s.kv.PutJSON(ctx, tableAdmins, adminsKey, set, opts)
	return err
}

// releaseAdmin takes a out of the admin set before it is disabled or
// deleted, and refuses when no other active admin of micro would remain.
// Accounts that are not admins of micro pass untouched.
func (s *Service) releaseAdmin(ctx context.Context, a Account) error {
	if !platformAdmin(a) {
		return nil
	}
	return storeclient.Update(ctx, func() error {
		set, err := s.loadAdmins(ctx)
		if err != nil {
			return err
		}
		rest, err := s.activeAdmins(ctx, slices.DeleteFunc(slices.Clone(set.IDs), func(id string) bool { return id == a.ID }))
		if err != nil {
			return err
		}
		if len(rest) == 0 {
			return fmt.Errorf("%q is the last active admin of namespace %q; enable or create another admin first: %w",
				a.Name, rules.PlatformNamespace, ErrFailedPrecondition)
		}
		// Written even when unchanged, so that every decision about the
		// admins of micro is ordered by this one record's versions.
		set.IDs = rest
		return s.storeAdmins(ctx, set)
	})
}

// claimAdmin adds a to the admin set once it is an active admin of micro.
func (s *Service) claimAdmin(ctx context.Context, a Account) error {
	if !platformAdmin(a) || a.Disabled {
		return nil
	}
	return storeclient.Update(ctx, func() error {
		set, err := s.loadAdmins(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(set.IDs, a.ID) && set.version != 0 {
			return nil
		}
		if !slices.Contains(set.IDs, a.ID) {
			set.IDs = append(set.IDs, a.ID)
		}
		return s.storeAdmins(ctx, set)
	})
}

// activeAdmins returns those of ids whose accounts are, right now, active
// admins of micro.
func (s *Service) activeAdmins(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		a, err := s.lookupID(ctx, rules.PlatformNamespace, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if platformAdmin(a.Account) && !a.Disabled {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}
