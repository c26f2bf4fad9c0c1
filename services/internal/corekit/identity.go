package corekit

import (
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
)

// Identity is the mTLS identity of the core service name: micro/<name>.
func Identity(name string) mtls.Identity {
	return mtls.Identity{Namespace: platform.Namespace, Service: name}
}
