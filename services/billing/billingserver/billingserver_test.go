package billingserver_test

import (
	"errors"
	"testing"
	"time"

	"m3o.dev/services/billing/billingserver"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/internal/corekit"
)

func TestValidate(t *testing.T) {
	ok := billingserver.Config{Provider: local.New(), PublicURL: "https://m3o.example.com"}
	tests := []struct {
		name   string
		change func(*billingserver.Config)
		ok     bool
	}{
		{"complete", func(*billingserver.Config) {}, true},
		{"poll interval", func(c *billingserver.Config) { c.PollInterval = time.Second }, true},
		{"no provider", func(c *billingserver.Config) { c.Provider = nil }, false},
		{"no public url", func(c *billingserver.Config) { c.PublicURL = "" }, false},
		{"public url without scheme", func(c *billingserver.Config) { c.PublicURL = "m3o.example.com" }, false},
		{"negative poll", func(c *billingserver.Config) { c.PollInterval = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, corekit.ErrConfig)) {
				t.Errorf("Validate(%s) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}
