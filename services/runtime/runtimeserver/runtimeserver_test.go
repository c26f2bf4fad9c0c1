package runtimeserver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/runtimeserver"
	"m3o.dev/services/runtime/source"
)

// nothing is a backend for configuration checks only.
type nothing struct{ runtime.Backend }

func TestValidate(t *testing.T) {
	good := runtimeserver.Config{Backend: nothing{}, ProxyAddress: "127.0.0.1:8081", TempDir: "/tmp"}
	with := func(change func(*runtimeserver.Config)) runtimeserver.Config {
		c := good
		change(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  runtimeserver.Config
		ok   bool
	}{
		{"complete", good, true},
		{"no backend", with(func(c *runtimeserver.Config) { c.Backend = nil }), false},
		{"proxy address without a port", with(func(c *runtimeserver.Config) { c.ProxyAddress = "localhost" }), false},
		{"no temporary directory", with(func(c *runtimeserver.Config) { c.TempDir = "" }), false},
		{"upload limit past the proto's", with(func(c *runtimeserver.Config) {
			c.Limits = source.Limits{CompressedBytes: source.MaxCompressedBytes + 1}
		}), false},
		{"negative quota", with(func(c *runtimeserver.Config) { c.QuotaServices = -1 }), false},
		{"negative interval", with(func(c *runtimeserver.Config) { c.ReconcileInterval = -time.Second }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, corekit.ErrConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestLocalConfigValidate(t *testing.T) {
	ca := mtlstest.NewCA(t)
	inter, err := ca.IssueIntermediate("test workload CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  runtimeserver.LocalConfig
		ok   bool
	}{
		{"complete", runtimeserver.LocalConfig{Dir: "/var/lib/m3o/runtime", WorkloadCA: inter}, true},
		{"relative directory", runtimeserver.LocalConfig{Dir: "runtime", WorkloadCA: inter}, false},
		{"the platform CA as the workload CA", runtimeserver.LocalConfig{Dir: "/var/lib/m3o/runtime", WorkloadCA: ca}, false},
		{"no workload CA", runtimeserver.LocalConfig{Dir: "/var/lib/m3o/runtime"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, corekit.ErrConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestRunNeedsItsPeers refuses to run without the services the runtime
// cannot do without.
func TestRunNeedsItsPeers(t *testing.T) {
	p := &corekit.Process{Name: "runtime", Peers: corekit.Peers{"store": "127.0.0.1:1"}}
	cfg := runtimeserver.Config{Backend: nothing{}, ProxyAddress: "127.0.0.1:8081", TempDir: t.TempDir()}
	if err := runtimeserver.Run(context.Background(), cfg, p); !errors.Is(err, corekit.ErrConfig) {
		t.Errorf("Run() without auth and the registry = %v, want ErrConfig", err)
	}
}
