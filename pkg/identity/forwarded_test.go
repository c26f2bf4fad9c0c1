package identity_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/identity"
)

func TestForwarded(t *testing.T) {
	tests := []struct {
		name string
		md   metadata.MD
		want identity.Caller
		ok   bool
	}{
		{"full", metadata.Pairs(identity.CallerNamespaceKey, "ns-one", identity.CallerAccountKey, "acc-1", identity.CallerRolesKey, "admin,developer"),
			identity.Caller{Namespace: "ns-one", Subject: "acc-1", Roles: []string{"admin", "developer"}}, true},
		{"no roles", metadata.Pairs(identity.CallerNamespaceKey, "ns-one", identity.CallerAccountKey, "acc-1"),
			identity.Caller{Namespace: "ns-one", Subject: "acc-1"}, true},
		{"no account", metadata.Pairs(identity.CallerNamespaceKey, "ns-one"), identity.Caller{}, false},
		{"no namespace", metadata.Pairs(identity.CallerAccountKey, "acc-1"), identity.Caller{}, false},
		{"two namespaces", metadata.Pairs(identity.CallerNamespaceKey, "ns-one", identity.CallerNamespaceKey, "micro", identity.CallerAccountKey, "acc-1"), identity.Caller{}, false},
		{"empty", metadata.MD{}, identity.Caller{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := identity.Forwarded(metadata.NewIncomingContext(t.Context(), tt.md))
			if ok != tt.ok || !cmp.Equal(got, tt.want) {
				t.Errorf("Forwarded(%v) = %+v, %v, want %+v, %v", tt.md, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestSetForwardedReplacesTheCallers checks that what a caller sent under
// the forwarded keys never survives the proxy setting them.
func TestSetForwardedReplacesTheCallers(t *testing.T) {
	md := metadata.Pairs(identity.CallerNamespaceKey, "micro", identity.CallerRolesKey, "admin", "other", "kept")
	identity.SetForwarded(md, identity.Caller{Namespace: "ns-one", Subject: "acc-1"})
	want := metadata.Pairs(identity.CallerNamespaceKey, "ns-one", identity.CallerAccountKey, "acc-1", "other", "kept")
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("SetForwarded() metadata (-want +got):\n%s", diff)
	}
}
