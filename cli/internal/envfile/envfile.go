// Package envfile keeps the CLI's one file, ~/.micro/config.json: the envs
// the CLI knows, which one is current, and the tokens each login left.
//
// The file holds live credentials, so it is written only with mode 0600 in a
// directory of mode 0700, always atomically (a temporary file renamed over the
// old one), and under a lock so that two micro commands refreshing tokens at
// once do not both spend the same single-use refresh token.
package envfile

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"m3o.dev/pkg/lazyregexp"
)

// The built-in envs, which always exist and cannot be deleted.
const (
	// Local is the platform that 'micro server' runs on this machine.
	Local = "local"
	// Platform is the hosted platform baked into the binary.
	Platform = "platform"
)

// LocalAddress is where 'micro server' serves its gRPC proxy by default.
const LocalAddress = "127.0.0.1:8081"

// Errors that callers branch on.
var (
	// ErrUnknownEnv means no env has the given name.
	ErrUnknownEnv = errors.New("no such env")
	// ErrEnvExists means an env of that name is already defined.
	ErrEnvExists = errors.New("env already exists")
	// ErrBuiltin means the env is built in and cannot be changed or deleted.
	ErrBuiltin = errors.New("env is built in")
	// ErrInvalid means a name or address given for an env is unusable.
	ErrInvalid = errors.New("invalid env")
	// ErrCorrupt means the config file is not valid JSON.
	ErrCorrupt = errors.New("config file is not valid JSON")
)

// envName is what an added env may be called: short, lower case, and safe to
// show in any sentence or shell.
var envName = lazyregexp.New(`^[a-z][a-z0-9-]{0,31}$`)

// Env is a platform the CLI can talk to: the address of its public gRPC
// proxy and the CA that signed the proxy's certificate.
type Env struct {
	// Name is how commands refer to the env.
	Name string `json:"-"`
	// Address is the proxy's host:port.
	Address string `json:"address"`
	// CAFile is a PEM file of the CAs to trust; empty means the system roots.
	CAFile string `json:"ca_file,omitempty"`
	// Builtin is true for local and platform, which are not stored in the file.
	Builtin bool `json:"-"`
}

// Session is what a login to one env leaves behind.
type Session struct {
	// Account is the name the user logged in with.
	Account string `json:"account"`
	// AccountID is the account's server-assigned id.
	AccountID string `json:"account_id,omitempty"`
	// Namespace is the namespace the account belongs to.
	Namespace string `json:"namespace"`
	// AccessToken is the bearer token sent with every call.
	AccessToken string `json:"access_token"`
	// RefreshToken obtains the next access token; it works once.
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is when AccessToken stops being accepted.
	Expiry time.Time `json:"expiry"`
}

// NeedsRefresh reports whether the access token expires within margin of now
// and a refresh token exists to replace it. A session without a known expiry
// is never refreshed ahead of time; the platform says when it has expired.
func (s Session) NeedsRefresh(now time.Time, margin time.Duration) bool {
	return s.RefreshToken != "" && !s.Expiry.IsZero() && !s.Expiry.After(now.Add(margin))
}

// Builtins returns the built-in envs for a user whose home directory is home.
// The local env trusts the CA that 'micro server' writes to its default data
// directory; the platform env trusts the system roots.
func Builtins(home, platformAddress string) []Env {
	return []Env{
		{Name: Local, Address: LocalAddress, CAFile: filepath.Join(home, ".micro", "server", "ca.pem"), Builtin: true},
		{Name: Platform, Address: platformAddress, Builtin: true},
	}
}

// InvalidError says what is wrong with a name or address given for an env.
type InvalidError struct {
	// Problem is a phrase fit to end a sentence, such as
	// `the address "x" must be host:port`.
	Problem string
}

// Error implements error.
func (e *InvalidError) Error() string { return "invalid env: " + e.Problem }

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ValidateName checks that name can name an added env.
func ValidateName(name string) error {
	if !envName.MatchString(name) {
		return &InvalidError{Problem: fmt.Sprintf("the name %q must be 1 to 32 lower-case letters, digits or dashes, starting with a letter", name)}
	}
	return nil
}

// ValidateAddress checks that address is host:port with a numeric port.
func ValidateAddress(address string) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return &InvalidError{Problem: fmt.Sprintf("the address %q must be host:port", address)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return &InvalidError{Problem: fmt.Sprintf("the address %q has no valid port", address)}
	}
	return nil
}

// sortedKeys returns the keys of m in order, so listings are stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
