package sdkcheck_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"m3o.dev/pkg/platform"
)

// TestGrpcurlThroughProxy points grpcurl, as people use it, at the proxy
// with only the platform CA file and a token: it must list and describe
// the core APIs, which the proxy reflects itself, and, with the
// micro-service header, the user's service, whose own reflection the proxy
// relays; and it must call the user's service from JSON.
func TestGrpcurlThroughProxy(t *testing.T) {
	grpcurl := buildGrpcurl(t)
	e := newEnv(t)
	e.run(t, tenantA, "hello", "Hello")
	_, tok := e.Account(t, tenantA, "alice")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, e.CA.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	auth := []string{"-cacert", caFile, "-H", "authorization: Bearer " + tok}
	hello := []string{"-H", platform.ServiceHeader + ": hello"}
	tests := []struct {
		name      string
		opts      []string // before the address
		verb      []string // after it
		want, not []string
		anonymous bool // without the token
		fails     bool // grpcurl must fail
	}{
		{"list the core APIs", nil, []string{"list"},
			[]string{"m3o.store.v1.StoreService", "m3o.auth.v1.AuthService", "m3o.config.v1.ConfigService", "m3o.registry.v1.RegistryService", "m3o.runtime.v1.RuntimeService"},
			[]string{"hello.Hello"}, false, false},
		{"describe the store", nil, []string{"describe", "m3o.store.v1.StoreService"},
			[]string{"service StoreService {", "rpc Read ( .m3o.store.v1.ReadRequest ) returns ( .m3o.store.v1.ReadResponse );"}, nil, false, false},
		{"describe a store message", nil, []string{"describe", "m3o.store.v1.Record"},
			[]string{"message Record {", "expires_at"}, nil, false, false},
		{"list the user's service", hello, []string{"list"},
			[]string{"hello.Hello", "grpc.health.v1.Health"}, []string{"m3o.store.v1.StoreService"}, false, false},
		{"describe the user's service", hello, []string{"describe", "hello.Hello"},
			[]string{"rpc Call ( .hello.CallRequest ) returns ( .hello.CallResponse );"}, nil, false, false},
		{"call the user's service", append(hello, "-d", `{"name":"Ann"}`), []string{"hello.Hello/Call"},
			[]string{`"message": "Hello Ann"`}, nil, false, false},
		{"list the core APIs without a token", nil, []string{"list"},
			[]string{"m3o.store.v1.StoreService"}, nil, true, false},
		{"the user's service needs a token", hello, []string{"list"},
			[]string{"Unauthenticated"}, []string{"hello.Hello"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := slices.Clone(auth)
			if tt.anonymous {
				args = args[:2]
			}
			args = append(append(append(args, tt.opts...), e.Addr(platform.Proxy)), tt.verb...)
			out, err := exec.CommandContext(t.Context(), grpcurl, args...).CombinedOutput()
			if (err != nil) != tt.fails {
				t.Fatalf("grpcurl %q = %v, want failure %v:\n%s", tt.verb, err, tt.fails, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("grpcurl %q: output lacks %q:\n%s", tt.verb, w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(string(out), n) {
					t.Errorf("grpcurl %q: output has %q:\n%s", tt.verb, n, out)
				}
			}
		})
	}
}

// buildGrpcurl builds grpcurl from the version the tools module pins, into
// a temporary directory, so that it never becomes a dependency of the
// platform's own modules.
func buildGrpcurl(t *testing.T) string {
	t.Helper()
	tools, err := filepath.Abs(filepath.Join("..", "..", "..", "scripts", "tools"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "grpcurl")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/fullstorydev/grpcurl/cmd/grpcurl")
	cmd.Dir = tools
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build grpcurl in %s: %v\n%s", tools, err, out)
	}
	return bin
}
