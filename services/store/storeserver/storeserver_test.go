package storeserver

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	valid := Config{
		Backend: BackendPebble, DataDir: "/data", Address: "127.0.0.1:0", SweepInterval: time.Minute,
		CAFile: "ca", CertFile: "cert", KeyFile: "key",
	}
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"pebble", func(*Config) {}, true},
		{"cockroach", func(c *Config) { c.Backend, c.DataDir, c.DSN = BackendCockroach, "", "postgres://db" }, true},
		{"memory", func(c *Config) { c.Backend, c.DataDir = BackendMemory, "" }, true},
		{"unknown backend", func(c *Config) { c.Backend = "bolt" }, false},
		{"pebble without a directory", func(c *Config) { c.DataDir = "" }, false},
		{"pebble with a DSN", func(c *Config) { c.DSN = "postgres://db" }, false},
		{"cockroach without a DSN", func(c *Config) { c.Backend, c.DataDir = BackendCockroach, "" }, false},
		{"address without a port", func(c *Config) { c.Address = "localhost" }, false},
		{"negative quota", func(c *Config) { c.QuotaBytes = -1 }, false},
		{"no sweep interval", func(c *Config) { c.SweepInterval = 0 }, false},
		{"no key file", func(c *Config) { c.KeyFile = "" }, false},
		{"auth address", func(c *Config) { c.AuthAddress = "auth:8084" }, true},
		{"auth address without a port", func(c *Config) { c.AuthAddress = "auth" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrConfig) {
				t.Errorf("Validate(%+v) = %v, want ok %t (errors wrapping ErrConfig)", c, err, tt.ok)
			}
		})
	}
}
