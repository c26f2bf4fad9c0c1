package platform

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"m3o.dev/pkg/lazyregexp"
)

// Names of the core services: each is also the service part of its mTLS
// identity micro/<name>.
const (
	Proxy    = "proxy"
	Registry = "registry"
	Store    = "store"
	Auth     = "auth"
	Config   = "config"
	Runtime  = "runtime"
	Billing  = "billing"
	// Router is the proxy's second identity, for its own lookups (rules,
	// keys, where services run): the identity it relays calls with,
	// micro/proxy, vouches for nobody.
	Router = "router"
)

// Ports of the port table (README, DESIGN §4). Standalone binaries listen
// on 127.0.0.1:<port> by default and deploy/ on every interface.
const (
	ProxyGRPCPort = 8081
	ProxyHTTPPort = 8080
	RegistryPort  = 8082
	StorePort     = 8083
	AuthPort      = 8084
	ConfigPort    = 8085
	RuntimePort   = 8086
	BillingPort   = 8087
)

// CoreService is one row of the table of core services.
type CoreService struct {
	// Name is the service's name and the service part of its identity.
	Name string
	// Package is the proto package of the API it serves, which the proxy
	// routes by; empty for the proxy itself.
	Package string
	// Port is its gRPC port.
	Port int
}

// CoreServices lists the core services in the order they start: each
// needs only those before it (the store keeps auth's and config's state,
// and auth's keys verify everyone's tokens).
var CoreServices = []CoreService{
	{Name: Store, Package: "m3o.store.v1", Port: StorePort},
	{Name: Registry, Package: "m3o.registry.v1", Port: RegistryPort},
	{Name: Auth, Package: "m3o.auth.v1", Port: AuthPort},
	{Name: Config, Package: "m3o.config.v1", Port: ConfigPort},
	{Name: Runtime, Package: "m3o.runtime.v1", Port: RuntimePort},
	{Name: Billing, Package: "m3o.billing.v1", Port: BillingPort},
	{Name: Proxy, Port: ProxyGRPCPort},
}

// ReservedPackagePrefix starts the proto package of every core API. A
// user's service may not use it, so a call to m3o.* always means the
// platform.
const ReservedPackagePrefix = "m3o."

// ServiceHeader is the gRPC metadata key that names the user's service a
// call is for. The CLI and the SDK set it on every call to a user's
// service; the proxy routes on it, and without it on the first label of
// the called method's proto package ("hello" for /hello.Hello/Call).
// Calls to an m3o.* package always go to the platform, whatever it says.
const ServiceHeader = "micro-service"

// NotRunning is the sentence for a user's service with no instance in a
// namespace: the runtime and the proxy both answer with it.
func NotRunning(service, namespace string) string {
	return fmt.Sprintf("service %q is not running in namespace %q", service, namespace)
}

// NotTaken is the reason a service gives while generation gen did not
// take, its build or its start having failed, and generation running
// still serves.
func NotTaken(gen, running uint64, why string) string {
	return fmt.Sprintf("generation %d did not take, generation %d still runs: %s", gen, running, why)
}

// SplitNotTaken returns the generation and the why of a reason NotTaken
// wrote, or ok false for any other reason.
func SplitNotTaken(reason string) (gen uint64, why string, ok bool) {
	var running uint64
	if _, err := fmt.Sscanf(reason, "generation %d did not take, generation %d", &gen, &running); err != nil {
		return 0, "", false
	}
	why, ok = strings.CutPrefix(reason, NotTaken(gen, running, ""))
	return gen, why, ok
}

// sourceIDPattern is what the runtime names a stored source: src- and 26
// characters of lower-case base32.
var sourceIDPattern = lazyregexp.New(`^src-[a-z2-7]{26}$`)

// IsSourceID reports whether s is in the form of a stored source's id, as
// Upload returns and the runtime's Read lists, rather than a git URL.
func IsSourceID(s string) bool { return sourceIDPattern.MatchString(s) }

// AnsweredByTrailer is the trailer the proxy adds to a call's final status
// when the user's service itself ended the call with it; its value is the
// service's name. A client reads it to tell a service's own refusal, such
// as its InvalidArgument, from the platform's. Codes the transport also
// produces (Unavailable, DeadlineExceeded, Canceled, Internal, Unknown,
// DataLoss) never carry it.
const AnsweredByTrailer = "micro-answered-by"

// Lookup returns the row of the core service name.
func Lookup(name string) (CoreService, bool) {
	for _, s := range CoreServices {
		if s.Name == name {
			return s, true
		}
	}
	return CoreService{}, false
}

// ServiceOfMethod returns the core service that serves a full gRPC method
// name such as "/m3o.store.v1.StoreService/Read", and whether there is one.
func ServiceOfMethod(fullMethod string) (string, bool) {
	for _, s := range CoreServices {
		if s.Package != "" && strings.HasPrefix(fullMethod, "/"+s.Package+".") {
			return s.Name, true
		}
	}
	return "", false
}

// DefaultAddress is where a standalone binary of the core service name
// listens unless told otherwise: loopback, on its port of the table.
func DefaultAddress(name string) string {
	s, ok := Lookup(name)
	if !ok {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
}
