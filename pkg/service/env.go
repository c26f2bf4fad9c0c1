package service

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"m3o.dev/pkg/mtls"
)

// The environment variables through which the runtime tells an instance
// where it runs. The package documentation says what each one means.
const (
	EnvAddress        = "MICRO_ADDRESS"
	EnvHealthAddress  = "MICRO_HEALTH_ADDRESS"
	EnvTLSDir         = "MICRO_TLS_DIR"
	EnvNamespace      = "MICRO_NAMESPACE"
	EnvServiceName    = "MICRO_SERVICE_NAME"
	EnvServiceVersion = "MICRO_SERVICE_VERSION"
	EnvInstance       = "MICRO_INSTANCE"
	EnvProxy          = "MICRO_PROXY"
	EnvAccountID      = "MICRO_ACCOUNT_ID"
	EnvAccountSecret  = "MICRO_ACCOUNT_SECRET"
)

// Files under MICRO_TLS_DIR.
const (
	// CAFile is the platform's root CA certificate.
	CAFile = "ca.pem"
	// CertFile is the instance's certificate followed by the certificate
	// of the runtime's intermediate CA that signed it.
	CertFile = "cert.pem"
	// KeyFile is the instance's private key.
	KeyFile = "key.pem"
)

// NodeInstanceKey is the node metadata key an instance registers its
// MICRO_INSTANCE under.
const NodeInstanceKey = "instance"

// DefaultAddress is where an instance listens when MICRO_ADDRESS is unset:
// a port the system picks on loopback, which the log reports.
const DefaultAddress = "127.0.0.1:0"

// ErrEnv is wrapped by every error about the environment.
var ErrEnv = errors.New("bad platform environment")

// Env is what the runtime tells an instance, one field a variable. The
// runtime builds one and passes Environ to the process; the SDK reads it
// back with LoadEnv.
type Env struct {
	// Address is MICRO_ADDRESS.
	Address string
	// HealthAddress is MICRO_HEALTH_ADDRESS.
	HealthAddress string
	// TLSDir is MICRO_TLS_DIR.
	TLSDir string
	// Namespace is MICRO_NAMESPACE.
	Namespace string
	// Name is MICRO_SERVICE_NAME.
	Name string
	// Version is MICRO_SERVICE_VERSION.
	Version string
	// Instance is MICRO_INSTANCE.
	Instance string
	// Proxy is MICRO_PROXY.
	Proxy string
	// AccountID is MICRO_ACCOUNT_ID.
	AccountID string
	// AccountSecret is MICRO_ACCOUNT_SECRET; it is never logged.
	AccountSecret string
}

// fields pairs each variable with its field, in one place for reading and
// writing.
func (e *Env) fields() []struct {
	name string
	ptr  *string
} {
	return []struct {
		name string
		ptr  *string
	}{
		{EnvAddress, &e.Address}, {EnvHealthAddress, &e.HealthAddress}, {EnvTLSDir, &e.TLSDir},
		{EnvNamespace, &e.Namespace}, {EnvServiceName, &e.Name}, {EnvServiceVersion, &e.Version},
		{EnvInstance, &e.Instance}, {EnvProxy, &e.Proxy}, {EnvAccountID, &e.AccountID},
		{EnvAccountSecret, &e.AccountSecret},
	}
}

// LoadEnv reads the variables with getenv (os.Getenv in a real instance)
// and checks them. With none of the platform's variables set it returns a
// standalone Env; with some set, every one the platform needs must be
// there and well formed.
func LoadEnv(getenv func(string) string) (Env, error) {
	var e Env
	for _, f := range e.fields() {
		*f.ptr = getenv(f.name)
	}
	if e.Address == "" {
		e.Address = DefaultAddress
	}
	return e, e.Validate()
}

// Environ returns the set variables as "NAME=value" entries, for a
// process's environment.
func (e Env) Environ() []string {
	var out []string
	for _, f := range e.fields() {
		if *f.ptr != "" {
			out = append(out, f.name+"="+*f.ptr)
		}
	}
	return out
}

// Platform reports whether the instance runs on the platform: when any of
// the variables only the runtime sets is present.
func (e Env) Platform() bool {
	return e.TLSDir != "" || e.Namespace != "" || e.Proxy != "" || e.AccountID != "" || e.AccountSecret != ""
}

// Validate checks the Env: addresses are host:port, and on the platform
// every variable it needs is set, the namespace and name form a platform
// identity and the instance is a number from 1.
func (e Env) Validate() error {
	var errs []error
	for name, addr := range map[string]string{EnvAddress: e.Address, EnvHealthAddress: e.HealthAddress, EnvProxy: e.Proxy} {
		if _, _, err := net.SplitHostPort(addr); addr != "" && err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not host:port", name, addr))
		}
	}
	if e.Platform() {
		errs = append(errs, e.validatePlatform()...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrEnv, errors.Join(errs...))
	}
	return nil
}

// validatePlatform checks what only the platform needs.
func (e Env) validatePlatform() []error {
	var errs []error
	required := map[string]string{
		EnvTLSDir: e.TLSDir, EnvNamespace: e.Namespace, EnvServiceName: e.Name,
		EnvProxy: e.Proxy, EnvAccountID: e.AccountID, EnvAccountSecret: e.AccountSecret,
	}
	for _, f := range e.fields() {
		if v, ok := required[f.name]; ok && v == "" {
			errs = append(errs, fmt.Errorf("%s is not set", f.name))
		}
	}
	if e.Namespace != "" && e.Name != "" {
		if err := e.Identity().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", EnvNamespace, EnvServiceName, err))
		}
	}
	if n, err := strconv.Atoi(e.Instance); e.Instance != "" && (err != nil || n < 1) {
		errs = append(errs, fmt.Errorf("%s=%q is not a number from 1", EnvInstance, e.Instance))
	}
	return errs
}

// Identity is the instance's platform identity, which its certificate
// must carry.
func (e Env) Identity() mtls.Identity {
	return mtls.Identity{Namespace: e.Namespace, Service: e.Name}
}
