package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"m3o.dev/pkg/service"
)

// platformEnv is a complete platform environment.
func platformEnv() map[string]string {
	return map[string]string{
		service.EnvAddress: "127.0.0.1:0", service.EnvTLSDir: "/run/tls", service.EnvNamespace: "brave-otter-lamp",
		service.EnvServiceName: "hello", service.EnvServiceVersion: "v1", service.EnvInstance: "1",
		service.EnvProxy: "proxy:8081", service.EnvAccountID: "acc-1", service.EnvAccountSecret: "s3cret",
	}
}

func TestLoadEnv(t *testing.T) {
	change := func(k, v string) map[string]string {
		env := platformEnv()
		env[k] = v
		return env
	}
	tests := []struct {
		name     string
		env      map[string]string
		platform bool
		bad      string // a variable the error must name
	}{
		{"nothing: standalone", map[string]string{}, false, ""},
		{"standalone address", map[string]string{service.EnvAddress: "127.0.0.1:9090"}, false, ""},
		{"standalone bad address", map[string]string{service.EnvAddress: "9090"}, false, service.EnvAddress},
		{"platform", platformEnv(), true, ""},
		{"platform without a version or instance", change(service.EnvInstance, ""), true, ""},
		{"no TLS directory", change(service.EnvTLSDir, ""), true, service.EnvTLSDir},
		{"no secret", change(service.EnvAccountSecret, ""), true, service.EnvAccountSecret},
		{"no proxy", change(service.EnvProxy, ""), true, service.EnvProxy},
		{"no name", change(service.EnvServiceName, ""), true, service.EnvServiceName},
		{"bad namespace", change(service.EnvNamespace, "Brave"), true, service.EnvNamespace},
		{"bad name", change(service.EnvServiceName, "hello_world"), true, service.EnvServiceName},
		{"instance zero", change(service.EnvInstance, "0"), true, service.EnvInstance},
		{"bad proxy", change(service.EnvProxy, "proxy"), true, service.EnvProxy},
		{"bad health address", change(service.EnvHealthAddress, "x"), true, service.EnvHealthAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := service.LoadEnv(func(k string) string { return tt.env[k] })
			if env.Platform() != tt.platform {
				t.Errorf("LoadEnv(%v).Platform() = %v, want %v", tt.env, env.Platform(), tt.platform)
			}
			if tt.bad == "" && err != nil {
				t.Errorf("LoadEnv(%v) = %v, want nil", tt.env, err)
			}
			if tt.bad != "" && (!errors.Is(err, service.ErrEnv) || !strings.Contains(err.Error(), tt.bad)) {
				t.Errorf("LoadEnv(%v) = %v, want ErrEnv naming %s", tt.env, err, tt.bad)
			}
		})
	}
}

// TestEnvironRoundTrip checks that what the runtime writes with Environ is
// what the SDK reads back.
func TestEnvironRoundTrip(t *testing.T) {
	want := platformEnv()
	env, err := service.LoadEnv(func(k string) string { return want[k] })
	if err != nil {
		t.Fatalf("LoadEnv() = %v", err)
	}
	got := map[string]string{}
	for _, kv := range env.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Environ() (-want +got):\n%s", diff)
	}
	if d := env.Identity(); d.Namespace != want[service.EnvNamespace] || d.Service != want[service.EnvServiceName] {
		t.Errorf("Identity() = %v, want the namespace and name", d)
	}
}
