package mtls_test

import (
	"errors"
	"testing"

	"m3o.dev/pkg/mtls"
)

func TestIdentityURI(t *testing.T) {
	id := mtls.Identity{Namespace: "brave-otter-lamp", Service: "hello"}
	if got, want := id.URI(), "spiffe://m3o/ns/brave-otter-lamp/svc/hello"; got != want {
		t.Errorf("URI() = %q, want %q", got, want)
	}
	if got, want := id.String(), "brave-otter-lamp/hello"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	back, err := mtls.ParseIdentity(id.URI())
	if err != nil || back != id {
		t.Errorf("ParseIdentity(%q) = %v, %v, want %v, nil", id.URI(), back, err, id)
	}
}

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		name string
		uri  string
		want mtls.Identity
		ok   bool
	}{
		{"core service", "spiffe://m3o/ns/micro/svc/store", mtls.Identity{Namespace: "micro", Service: "store"}, true},
		{"tenant service with digits", "spiffe://m3o/ns/ns-42/svc/hello-2", mtls.Identity{Namespace: "ns-42", Service: "hello-2"}, true},
		{"empty", "", mtls.Identity{}, false},
		{"wrong scheme", "https://m3o/ns/micro/svc/store", mtls.Identity{}, false},
		{"wrong trust domain", "spiffe://evil/ns/micro/svc/store", mtls.Identity{}, false},
		{"trust domain with port", "spiffe://m3o:443/ns/micro/svc/store", mtls.Identity{}, false},
		{"user info", "spiffe://x@m3o/ns/micro/svc/store", mtls.Identity{}, false},
		{"query", "spiffe://m3o/ns/micro/svc/store?a=b", mtls.Identity{}, false},
		{"fragment", "spiffe://m3o/ns/micro/svc/store#x", mtls.Identity{}, false},
		{"trailing slash", "spiffe://m3o/ns/micro/svc/store/", mtls.Identity{}, false},
		{"extra segment", "spiffe://m3o/ns/micro/svc/store/x", mtls.Identity{}, false},
		{"missing service", "spiffe://m3o/ns/micro/svc/", mtls.Identity{}, false},
		{"wrong keyword", "spiffe://m3o/ns/micro/sa/store", mtls.Identity{}, false},
		{"escaped slash", "spiffe://m3o/ns/micro%2Fsvc/svc/store", mtls.Identity{}, false},
		{"dot segment", "spiffe://m3o/ns/../svc/store", mtls.Identity{}, false},
		{"upper case namespace", "spiffe://m3o/ns/Micro/svc/store", mtls.Identity{}, false},
		{"namespace too short", "spiffe://m3o/ns/ab/svc/store", mtls.Identity{}, false},
		{"service ends with dash", "spiffe://m3o/ns/micro/svc/store-", mtls.Identity{}, false},
		{"upper case scheme", "SPIFFE://m3o/ns/micro/svc/store", mtls.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mtls.ParseIdentity(tt.uri)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Errorf("ParseIdentity(%q) = %v, %v, want %v, nil", tt.uri, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, mtls.ErrBadIdentity) {
				t.Errorf("ParseIdentity(%q) = %v, %v, want ErrBadIdentity", tt.uri, got, err)
			}
		})
	}
}
