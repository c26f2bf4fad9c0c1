package corekit

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
)

// parse runs the flags of spec over args and returns the Config they give.
func parse(t *testing.T, spec Spec, args ...string) Config {
	t.Helper()
	var got Config
	app := &cli.App{Name: spec.Name, Flags: Flags(spec), Action: func(c *cli.Context) error {
		got = ConfigFrom(c, spec)
		return nil
	}}
	if err := app.Run(append([]string{spec.Name}, args...)); err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return got
}

func TestFlagsDefaultToThePortTable(t *testing.T) {
	for _, s := range platform.CoreServices {
		got := parse(t, Spec{Name: s.Name}).Address
		if want := platform.DefaultAddress(s.Name); got != want {
			t.Errorf("%s --address default = %q, want %q", s.Name, got, want)
		}
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	spec := Spec{Name: "config", Peers: []string{"store"}}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want Config
	}{
		{
			name: "defaults",
			want: Config{Address: "127.0.0.1:8085", Peers: Peers{}, LogFormat: "json", LogLevel: "info"},
		},
		{
			name: "environment",
			env: map[string]string{
				"MICRO_CONFIG_ADDRESS": ":8085", "MICRO_CONFIG_HEALTH_ADDRESS": ":8090",
				"MICRO_CONFIG_CA_FILE": "ca", "MICRO_CONFIG_CERT_FILE": "cert", "MICRO_CONFIG_KEY_FILE": "key",
				"MICRO_CONFIG_STORE_ADDRESS": "store:8083", "MICRO_CONFIG_AUTH_ADDRESS": "auth:8084",
				"MICRO_CONFIG_REGISTRY_ADDRESS": "registry:8082", "MICRO_CONFIG_LOG_LEVEL": "debug",
			},
			want: Config{
				Address: ":8085", HealthAddress: ":8090", CAFile: "ca", CertFile: "cert", KeyFile: "key",
				Peers:     Peers{"store": "store:8083", "auth": "auth:8084", "registry": "registry:8082"},
				LogFormat: "json", LogLevel: "debug",
			},
		},
		{
			name: "flag wins over environment",
			env:  map[string]string{"MICRO_CONFIG_ADDRESS": ":9", "MICRO_CONFIG_LOG_FORMAT": "text"},
			args: []string{"--address", ":10"},
			want: Config{Address: ":10", Peers: Peers{}, LogFormat: "text", LogLevel: "info"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if diff := cmp.Diff(tt.want, parse(t, spec, tt.args...)); diff != "" {
				t.Errorf("Config from %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestRenamedFlags(t *testing.T) {
	spec := Spec{Name: "config", Renamed: map[string]string{"tls-ca-file": "ca-file"}}
	if got := parse(t, spec, "--tls-ca-file", "old.pem").CAFile; got != "old.pem" {
		t.Errorf("--tls-ca-file old.pem gives CAFile %q, want old.pem", got)
	}
	t.Setenv("MICRO_CONFIG_TLS_CA_FILE", "env.pem")
	if got := parse(t, spec).CAFile; got != "env.pem" {
		t.Errorf("MICRO_CONFIG_TLS_CA_FILE=env.pem gives CAFile %q, want env.pem", got)
	}
	if got := parse(t, spec, "--ca-file", "new.pem").CAFile; got != "new.pem" {
		t.Errorf("--ca-file new.pem beside the old name gives CAFile %q, want new.pem", got)
	}
}

func TestValidate(t *testing.T) {
	valid := Config{Address: ":8083", CAFile: "ca", CertFile: "c", KeyFile: "k", Peers: Peers{"auth": "auth:8084"}}
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"complete", func(*Config) {}, true},
		{"health address", func(c *Config) { c.HealthAddress = ":8090" }, true},
		{"no peers", func(c *Config) { c.Peers = nil }, true},
		{"bad address", func(c *Config) { c.Address = "8083" }, false},
		{"bad health address", func(c *Config) { c.HealthAddress = "8090" }, false},
		{"bad advertise address", func(c *Config) { c.AdvertiseAddress = "store" }, false},
		{"no key file", func(c *Config) { c.KeyFile = "" }, false},
		{"peer without a port", func(c *Config) { c.Peers["auth"] = "auth" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			c.Peers = Peers{"auth": "auth:8084"}
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("Validate() = %v, want ok %v (errors wrapping ErrConfig)", err, tt.ok)
			}
		})
	}
}

func TestAdvertised(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	if got, _ := advertised("store.m3o:8083", tcp("0.0.0.0:8083")); got != "store.m3o:8083" {
		t.Errorf("advertised(configured) = %q, want it unchanged", got)
	}
	if got, _ := advertised("", tcp("127.0.0.1:8083")); got != "127.0.0.1:8083" {
		t.Errorf("advertised(loopback listener) = %q, want the listener's address", got)
	}
	got, err := advertised("", tcp("0.0.0.0:8083"))
	host, port, _ := net.SplitHostPort(got)
	if err != nil || port != "8083" || net.ParseIP(host) == nil || net.ParseIP(host).IsUnspecified() {
		t.Errorf("advertised(:8083) = %q, %v, want a reachable IP with port 8083", got, err)
	}
}

func TestNodeID(t *testing.T) {
	if got, want := nodeID("store", "[::1]:8083"), "store--::1-:8083"; got != want {
		t.Errorf("nodeID(store, [::1]:8083) = %q, want %q", got, want)
	}
}

// TestServeHealthInPlainText checks the health-only listener answers a
// client without TLS, as a Kubernetes gRPC probe is.
func TestServeHealthInPlainText(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{HealthListener: lis}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	h := newHealth()
	go func() { done <- p.ServeHealth(ctx, h) }()
	if err := checkPlain(t, lis.Addr().String()); err != nil {
		t.Errorf("plain-text health Check() = %v, want SERVING", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeHealth() after cancel = %v, want nil", err)
	}
}
