package store

import (
	"context"
	"fmt"
	"strings"

	"m3o.dev/pkg/identity"
	"m3o.dev/services/internal/rpcerr"
)

// Who may open which database:
//
//   - a tenant opens only the database named after its namespace, which is
//     also its default;
//   - a system database "_x" is opened only by the core service x of
//     namespace micro, calling on its own behalf (_auth by auth, _config by
//     config, …); nobody else, admins included, may open it, because those
//     databases hold credentials and keys;
//   - an admin of micro may open any other database by naming it.
//
// The namespace comes from the verified identity the interceptor put in the
// context, never from the request.

// isSystem reports whether database is a system database.
func isSystem(database string) bool { return strings.HasPrefix(database, "_") }

// mayOpen reports whether c may open database.
func mayOpen(c identity.Caller, database string) bool {
	switch {
	case isSystem(database):
		return c.IsCoreService() && database == "_"+c.Service
	case c.IsAdmin():
		return true
	default:
		return database == c.Namespace
	}
}

// candidates returns the databases c may open, for Databases to look for;
// nil means any (an admin), to be filtered with mayOpen.
func candidates(c identity.Caller) []string {
	switch {
	case c.IsAdmin():
		return nil
	case c.IsCoreService():
		return []string{c.Namespace, "_" + c.Service}
	default:
		return []string{c.Namespace}
	}
}

// open resolves the table a request names for its caller: it applies the
// defaults, checks the names and checks that the caller may open the
// database. Violations go to ck; the error is for the caller's identity.
func open(ctx context.Context, ck *checker, database, table string) (Table, error) {
	c, err := rpcerr.Caller(ctx)
	if err != nil {
		return Table{}, err
	}
	t := Table{Database: database, Name: table}
	if t.Database == "" {
		t.Database = c.Namespace
	}
	if t.Name == "" {
		t.Name = DefaultTable
	}
	ck.checkName("database", t.Database)
	ck.checkName("table", t.Name)
	if ck.Err() == nil && !mayOpen(c, t.Database) {
		return Table{}, deniedDatabase(c, t.Database)
	}
	return t, nil
}

// deniedDatabase refuses db to c, naming for a tenant the one database it
// opens, its namespace's.
func deniedDatabase(c identity.Caller, db string) error {
	if c.IsCoreService() {
		return fmt.Errorf("%s may not open database %q: %w", c, db, ErrPermissionDenied)
	}
	return fmt.Errorf("%s may not open database %q, only %q, the database of its namespace: %w", c, db, c.Namespace, ErrPermissionDenied)
}
