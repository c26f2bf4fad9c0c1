package storeserver

import (
	"errors"
	"testing"
	"time"

	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/store/memory"
)

func TestValidate(t *testing.T) {
	valid := Config{Backend: memory.New(nil), SweepInterval: time.Minute}
	tests := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"valid", func(*Config) {}, true},
		{"quota", func(c *Config) { c.QuotaBytes = 1 << 20 }, true},
		{"no backend", func(c *Config) { c.Backend = nil }, false},
		{"negative quota", func(c *Config) { c.QuotaBytes = -1 }, false},
		{"no sweep interval", func(c *Config) { c.SweepInterval = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("Validate(%+v) = %v, want ok %t (errors wrapping ErrConfig)", c, err, tt.ok)
			}
		})
	}
}
