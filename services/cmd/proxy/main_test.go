package main

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"m3o.dev/services/proxy"
	"m3o.dev/services/proxy/proxyserver"
)

// parse runs the app on args and returns the Config it would serve.
func parse(t *testing.T, args ...string) proxyserver.Config {
	t.Helper()
	var got proxyserver.Config
	app := newApp(func(_ context.Context, cfg proxyserver.Config) error {
		got = cfg
		return nil
	})
	if err := app.Run(append([]string{"proxy"}, args...)); err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return got
}

func TestFlags(t *testing.T) {
	defaults := proxyserver.Config{
		Address: ":8081", HTTPAddress: ":8080", RateLimit: proxy.RateLimit{PerSecond: 100, Burst: 200},
		LogFormat: "json", LogLevel: "info",
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want proxyserver.Config
	}{
		{name: "defaults", want: defaults},
		{
			name: "environment",
			env: map[string]string{
				"MICRO_PROXY_ADDRESS": ":9081", "MICRO_PROXY_HTTP_ADDRESS": ":9080",
				"MICRO_PROXY_CA_FILE": "ca", "MICRO_PROXY_CERT_FILE": "cert", "MICRO_PROXY_KEY_FILE": "key",
				"MICRO_PROXY_ROUTER_CERT_FILE": "rcert", "MICRO_PROXY_ROUTER_KEY_FILE": "rkey",
				"MICRO_PROXY_STORE_ADDRESS": "store:1", "MICRO_PROXY_REGISTRY_ADDRESS": "registry:2",
				"MICRO_PROXY_AUTH_ADDRESS": "auth:3", "MICRO_PROXY_CONFIG_ADDRESS": "config:4",
				"MICRO_PROXY_RATE_LIMIT": "2.5", "MICRO_PROXY_RATE_BURST": "5",
				"MICRO_PROXY_LOG_FORMAT": "text", "MICRO_PROXY_LOG_LEVEL": "debug",
			},
			want: proxyserver.Config{
				Address: ":9081", HTTPAddress: ":9080", CAFile: "ca", CertFile: "cert", KeyFile: "key",
				RouterCertFile: "rcert", RouterKeyFile: "rkey",
				StoreAddress: "store:1", RegistryAddress: "registry:2", AuthAddress: "auth:3", ConfigAddress: "config:4",
				RateLimit: proxy.RateLimit{PerSecond: 2.5, Burst: 5}, LogFormat: "text", LogLevel: "debug",
			},
		},
		{
			name: "flag wins over environment",
			env:  map[string]string{"MICRO_PROXY_ADDRESS": ":9081", "MICRO_PROXY_RATE_LIMIT": "2.5"},
			args: []string{"--address", ":7081", "--rate-limit", "0"},
			want: func() proxyserver.Config {
				c := defaults
				c.Address, c.RateLimit.PerSecond = ":7081", 0
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if diff := cmp.Diff(tt.want, parse(t, tt.args...)); diff != "" {
				t.Errorf("Config from %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestRunRejectsIncompleteConfig checks that the defaults alone do not
// start a proxy: it has no certificates and knows no core service.
func TestRunRejectsIncompleteConfig(t *testing.T) {
	cfg := parse(t)
	if err := run(t.Context(), cfg); !errors.Is(err, proxyserver.ErrConfig) {
		t.Errorf("run(defaults) = %v, want ErrConfig", err)
	}
}
