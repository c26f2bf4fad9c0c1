package configserver_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/config/configserver"
)

// valid is a complete configuration; each case breaks one thing.
func valid() configserver.Config {
	return configserver.Config{
		Address: ":8083", CAFile: "ca.pem", CertFile: "config.pem", KeyFile: "config-key.pem",
		StoreAddress: "store:8081", AuthAddress: "auth:8081", KeyringFile: "config.key",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*configserver.Config)
		ok     bool
	}{
		{"complete", func(*configserver.Config) {}, true},
		{"key from the environment", func(c *configserver.Config) { c.KeyringFile, c.Keyring = "", "a-key" }, true},
		{"both key sources", func(c *configserver.Config) { c.Keyring = "a-key" }, false},
		{"no key", func(c *configserver.Config) { c.KeyringFile = "" }, false},
		{"bad address", func(c *configserver.Config) { c.Address = "8083" }, false},
		{"no store", func(c *configserver.Config) { c.StoreAddress = "" }, false},
		{"no auth", func(c *configserver.Config) { c.AuthAddress = "" }, false},
		{"no certificate", func(c *configserver.Config) { c.CertFile = "" }, false},
		{"negative poll", func(c *configserver.Config) { c.PollInterval = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, configserver.ErrConfig)) {
				t.Errorf("Validate(%s) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}

func TestConfigLogValueHidesKey(t *testing.T) {
	c := valid()
	c.KeyringFile, c.Keyring = "", "c2VjcmV0LWtleS1tYXRlcmlhbA=="
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("start", "config", c)
	if strings.Contains(b.String(), c.Keyring) || !strings.Contains(b.String(), "key_from_env=true") {
		t.Errorf("logged config = %s, want the key left out and its source named", b.String())
	}
}
