package registryserver_test

import (
	"errors"
	"testing"

	"m3o.dev/services/registry/registryserver"
)

func TestConfigValidate(t *testing.T) {
	valid := registryserver.Config{Backend: "etcd", EtcdEndpoints: []string{"127.0.0.1:2379"}, Address: "127.0.0.1:8082", CAFile: "ca", CertFile: "c", KeyFile: "k"}
	tests := []struct {
		name   string
		change func(*registryserver.Config)
		ok     bool
	}{
		{"etcd endpoints", func(*registryserver.Config) {}, true},
		{"embedded etcd", func(c *registryserver.Config) { c.EtcdEndpoints, c.EmbeddedEtcdDir = nil, "/data" }, true},
		{"memory", func(c *registryserver.Config) { c.Backend, c.EtcdEndpoints = "memory", nil }, true},
		{"etcd with neither endpoints nor a directory", func(c *registryserver.Config) { c.EtcdEndpoints = nil }, false},
		{"etcd with both endpoints and a directory", func(c *registryserver.Config) { c.EmbeddedEtcdDir = "/data" }, false},
		{"memory with etcd endpoints", func(c *registryserver.Config) { c.Backend = "memory" }, false},
		{"unknown backend", func(c *registryserver.Config) { c.Backend = "consul" }, false},
		{"no address", func(c *registryserver.Config) { c.Address = "" }, false},
		{"no key file", func(c *registryserver.Config) { c.KeyFile = "" }, false},
		{"auth address", func(c *registryserver.Config) { c.AuthAddress = "auth:8084" }, true},
		{"auth address without a port", func(c *registryserver.Config) { c.AuthAddress = "auth" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			err := cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %t", err, tt.ok)
			}
			if err != nil && !errors.Is(err, registryserver.ErrConfig) {
				t.Errorf("Validate() = %v, want it to wrap ErrConfig", err)
			}
		})
	}
}
