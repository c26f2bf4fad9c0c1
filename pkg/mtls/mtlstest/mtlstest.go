// Package mtlstest gives tests a platform CA and workload bundles in one line
// each, so that a test can run real mTLS loopback servers.
package mtlstest

import (
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
)

// NewCA returns a fresh CA valid for a day, failing the test on error.
func NewCA(t testing.TB) *mtls.CA {
	t.Helper()
	ca, err := mtls.NewCA("m3o test CA", 24*time.Hour)
	if err != nil {
		t.Fatalf("mtls.NewCA() = %v, want a CA", err)
	}
	return ca
}

// Bundle issues a bundle for namespace/service from ca, valid for an hour on
// the loopback hosts, failing the test on error.
func Bundle(t testing.TB, ca *mtls.CA, namespace, service string) *mtls.Bundle {
	t.Helper()
	id := mtls.Identity{Namespace: namespace, Service: service}
	// The loopback names let the certificate also serve clients that check
	// host names, such as one built with mtls.ClientRootsConfig.
	b, err := ca.Issue(id, []string{"127.0.0.1", "::1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatalf("Issue(%s) = %v, want a bundle", id, err)
	}
	return b
}
