// Package auth is the platform's identity service: m3o.auth.v1's
// AuthService, AccountsService, RulesService, InviteService and
// SignupService.
//
// # Accounts and namespaces
//
// An account belongs to one namespace and is named uniquely within it. Its
// secret is kept only as an argon2id hash. A namespace comes into being when
// an admin of "micro" creates its first account; that same call installs the
// namespace's default rule, "any account of the namespace may call
// everything in it" (rules.NamespaceDefault), an ordinary rule that the
// namespace's admins may outrank or delete. The "micro" namespace itself is
// created at bootstrap without that rule: there, only admins and the core
// services act.
//
// Who may do what to accounts and rules:
//   - admins of "micro" act on any namespace, naming it explicitly, and are
//     the only ones who create namespaces and manage invites;
//   - accounts with role "admin" manage the accounts and rules of their own
//     namespace, including creating other admins there; only an admin may
//     grant the admin role;
//   - any account reads its own namespace's rules, explains decisions in it,
//     reads its own account, revokes its own tokens and changes its own
//     secret with the old one;
//   - core services, known by their mTLS identity, read any namespace's rules
//     and inspect tokens; the runtime also manages accounts, short of the
//     admin role, to give deployed services theirs; the proxy's identity
//     counts for nothing, since it relays strangers' calls;
//   - nobody else touches a namespace: PermissionDenied, and nothing changes.
//
// # Sign-up
//
// An invited person signs up without anyone's help (signup.go): a code by
// mail, a sign-up token, a card on billing's subscribe page, then a
// namespace of their own with a generated three-word name, a $35/month
// subscription, and an account named by their email with roles admin and
// developer there. Every step can be retried and a sign-up interrupted
// anywhere resumes where it stopped. Mail goes through the Sender in
// Deps, billing through its client, called as micro/auth.
//
// Emails are unique across the platform for accounts made by sign-up: an
// index of emails to accounts (emails.go) refuses a second account with
// such an email, and lets Token find the account by email without a
// namespace.
//
// # Tokens
//
// Access tokens are EdDSA JWTs (pkg/token) that live 15 minutes by default
// and at most MaxAccessTTL. Refresh tokens are 256 random bits, stored only
// as their SHA-256, and belong to a family started by one login. Each use
// rotates the token; presenting one that was already rotated revokes the
// whole family, since either the client or a thief holds a stale copy.
//
// Revoking an account records revoked_before[account] = now; a logout
// (Revoke with a refresh token) revokes the login's family and its session,
// the sid claim of every access token issued from it. Both are published
// by PublicKeys and pushed by WatchPublicKeys, so that every service's
// verifier (pkg/authkeys) refuses those tokens moments later; this service
// refuses them at once. Signing keys rotate with overlap: a new key is
// published before it signs, and an old key is published until the last
// token it signed has expired.
//
// # Guarding the platform
//
//   - The signing keys are sealed in the store under a key-encryption key
//     the store never sees (kek.go), so a copy of the store forges nothing.
//   - The last active admin of "micro" can be neither disabled nor deleted,
//     decided on one compare-and-set record of micro's active admins
//     (admins.go); ResetAdmin gives the operator the admin back.
//   - Failed logins count per account and per client address; guessing from
//     one address does not lock the owner out from another (limiter.go).
//   - Every new secret passes CheckNewSecret.
//
// # State
//
// Everything lives in the store service's "_auth" database, reached over
// mTLS as micro/auth; this package opens no database. Concurrent updates use
// the store's compare-and-set and retry on conflict. What the service keeps
// in memory (keys, revocations, the login failure counts) is a cache that
// another replica can rebuild. Replicas learn of each other's changes to
// keys, revocations and rules through change logs in the store, which each
// polls every WatchInterval (changes.go).
package auth

import (
	"errors"
	"maps"
	"slices"
	"time"

	"m3o.dev/services/internal/rpcerr"
	"m3o.dev/services/internal/storeclient"
)

// Store is the store service's client; the connection must present the
// identity micro/auth, which is what opens the "_auth" database.
type Store = storeclient.Store

// Errors of the domain layer. toStatus maps each to one gRPC code.
var (
	// ErrNotFound means the account, rule or invite does not exist; it is
	// the store client's, so that a missing record needs no translation.
	ErrNotFound = storeclient.ErrNotFound
	// ErrAlreadyExists means the name or id is taken.
	ErrAlreadyExists = storeclient.ErrAlreadyExists
	// ErrConflict means a concurrent update won a compare-and-set more often
	// than the retries allowed.
	ErrConflict = storeclient.ErrConflict
	// ErrBadCredentials means the name, id, secret or refresh token is wrong,
	// or the account may not log in. It never says which.
	ErrBadCredentials = errors.New("invalid credentials")
	// ErrUnauthenticated means an access token is malformed, forged, expired
	// or revoked, or a call needs a verified identity and has none.
	ErrUnauthenticated = rpcerr.ErrUnauthenticated
	// ErrPermissionDenied means the caller is known but may not do this.
	ErrPermissionDenied = rpcerr.ErrPermissionDenied
	// ErrRateLimited means too many failed logins: from the caller's
	// address, or for the account from an address that failed too.
	ErrRateLimited = errors.New("too many failed attempts")
	// ErrBuiltin means a built-in rule cannot be changed.
	ErrBuiltin = errors.New("built-in rule")
	// ErrFailedPrecondition means the request is well formed but the state
	// forbids it, such as an account deleting itself.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable means the store service could not be reached.
	ErrUnavailable = storeclient.ErrUnavailable
	// errStopping ends the watches of a replica that is stopping.
	errStopping = errors.New("stopping")
)

// AccountType says whether an account is a person or a program.
type AccountType string

// Account types, as carried in the token's typ claim.
const (
	// TypeUser is a person.
	TypeUser AccountType = "user"
	// TypeService is a deployed service.
	TypeService AccountType = "service"
)

// Account is an identity in one namespace. Its secret hash never leaves the
// service.
type Account struct {
	// ID is unique across the platform and never reused.
	ID string `json:"id"`
	// Name is unique within the namespace.
	Name string `json:"name"`
	// Namespace is the account's namespace.
	Namespace string `json:"namespace"`
	// Type is TypeUser or TypeService.
	Type AccountType `json:"type"`
	// Roles are the account's roles in its namespace.
	Roles []string `json:"roles,omitempty"`
	// Metadata is free-form string pairs.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Created is when the account was created.
	Created time.Time `json:"created"`
	// Disabled accounts may not log in and their tokens are refused.
	Disabled bool `json:"disabled,omitempty"`
}

// HasRole reports whether the account holds role r.
func (a Account) HasRole(r string) bool { return slices.Contains(a.Roles, r) }

// clone returns a copy sharing no memory with a.
func (a Account) clone() Account {
	a.Roles = slices.Clone(a.Roles)
	a.Metadata = maps.Clone(a.Metadata)
	return a
}

// Invite is one email address allowed to sign up.
type Invite struct {
	// Email is the lower-cased address.
	Email string `json:"email"`
	// Created is when the invite was added.
	Created time.Time `json:"created"`
	// CreatedBy is the name of the admin who added it.
	CreatedBy string `json:"created_by"`
	// SignedUp and Namespace say when the email completed its sign-up and
	// the namespace it made; listInvites fills them in from the sign-up.
	SignedUp  time.Time `json:"-"`
	Namespace string    `json:"-"`
}

// Issued is the result of a login or a refresh.
type Issued struct {
	// Account the tokens belong to.
	Account Account
	// AccessToken is the signed JWT.
	AccessToken string
	// RefreshToken is the opaque value that obtains the next pair.
	RefreshToken string
	// Expiry is when the access token expires.
	Expiry time.Time
	// Created is when the pair was issued.
	Created time.Time
}
