package mtls

import (
	"crypto/x509"
	"runtime"
	"sync"
	"weak"
)

// identities remembers the identity of each certificate parsed, for as
// long as the certificate lives. A connection's verified peer certificate
// is one value for the connection's life, and every call on it asks for
// its identity (the authenticator, the call's log line): parsing and
// validating the URI each time cost tens of microseconds a call.
var identities sync.Map // weak.Pointer[x509.Certificate] → Identity

// cachedIdentity returns the identity remembered for cert.
func cachedIdentity(cert *x509.Certificate) (Identity, bool) {
	id, ok := identities.Load(weak.Make(cert))
	if !ok {
		return Identity{}, false
	}
	return id.(Identity), true
}

// rememberIdentity remembers id as cert's until cert is collected.
func rememberIdentity(cert *x509.Certificate, id Identity) {
	key := weak.Make(cert)
	if _, loaded := identities.LoadOrStore(key, id); !loaded {
		runtime.AddCleanup(cert, func(k weak.Pointer[x509.Certificate]) { identities.Delete(k) }, key)
	}
}
