package runtime_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/services/runtime"
)

// newSigner returns a signer over a fresh workload CA below ca.
func newSigner(t *testing.T, ca *mtls.CA) *runtime.Signer {
	t.Helper()
	inter, err := ca.IssueIntermediate("test workload CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSigner(inter, time.Hour)
	if err != nil {
		t.Fatalf("NewSigner() = %v", err)
	}
	return s
}

// TestSignerPolicy asks the runtime's CA for every identity a workload of
// brave-otter/hello might want: only its own is signed.
func TestSignerPolicy(t *testing.T) {
	s := newSigner(t, mtlstest.NewCA(t))
	hello := runtime.Ref{Namespace: "brave-otter", Name: "hello"}
	tests := []struct {
		name string
		ref  runtime.Ref
		id   mtls.Identity
		ok   bool
	}{
		{"its own identity", hello, mtls.Identity{Namespace: "brave-otter", Service: "hello"}, true},
		{"a core service", hello, mtls.Identity{Namespace: "micro", Service: "store"}, false},
		{"the proxy", hello, mtls.Identity{Namespace: "micro", Service: "proxy"}, false},
		{"a service of micro", runtime.Ref{Namespace: "micro", Name: "hello"}, mtls.Identity{Namespace: "micro", Service: "hello"}, false},
		{"another namespace", hello, mtls.Identity{Namespace: "calm-lake", Service: "hello"}, false},
		{"another service of its namespace", hello, mtls.Identity{Namespace: "brave-otter", Service: "billing"}, false},
		{"a malformed name", runtime.Ref{Namespace: "brave-otter", Name: "Hello_"}, mtls.Identity{Namespace: "brave-otter", Service: "Hello_"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := s.Sign(tt.ref, tt.id)
			if !tt.ok {
				if !errors.Is(err, runtime.ErrPolicy) {
					t.Errorf("Sign(%s, %s) = %v, want ErrPolicy", tt.ref, tt.id, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign(%s, %s) = %v", tt.ref, tt.id, err)
			}
			if got := leafIdentity(t, cert); got != tt.id {
				t.Errorf("signed identity = %s, want %s", got, tt.id)
			}
		})
	}
}

// TestCertifyIsUsable checks that what Certify returns is a chain that the
// platform's servers accept, valid for the configured time.
func TestCertifyIsUsable(t *testing.T) {
	ca := mtlstest.NewCA(t)
	cert, err := newSigner(t, ca).Certify(runtime.Ref{Namespace: "brave-otter", Name: "hello"})
	if err != nil {
		t.Fatalf("Certify() = %v", err)
	}
	pair, err := tls.X509KeyPair(cert.Chain, cert.Key)
	if err != nil {
		t.Fatalf("the chain and key do not pair: %v", err)
	}
	if len(pair.Certificate) != 2 {
		t.Fatalf("chain of %d certificates, want the leaf and the workload CA", len(pair.Certificate))
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cert.CA) {
		t.Fatal("CA is not PEM")
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	inter, _ := x509.ParseCertificate(pair.Certificate[1])
	pool := x509.NewCertPool()
	pool.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the chain does not verify to the platform CA: %v", err)
	}
	if left := time.Until(cert.NotAfter); left > time.Hour || left < 50*time.Minute {
		t.Errorf("certificate expires in %s, want about an hour", left)
	}
}

func TestNewSignerRefusesTheRoot(t *testing.T) {
	if _, err := runtime.NewSigner(mtlstest.NewCA(t), 0); err == nil {
		t.Error("NewSigner(platform CA) = nil error, want a refusal: the platform CA may sign core services")
	}
}

func leafIdentity(t *testing.T, cert runtime.Certificate) mtls.Identity {
	t.Helper()
	block, _ := pem.Decode(cert.Chain)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	id, err := mtls.IdentityFromCert(leaf)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
