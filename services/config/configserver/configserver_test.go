package configserver_test

import (
	"errors"
	"testing"
	"time"

	"m3o.dev/services/config"
	"m3o.dev/services/config/configserver"
	"m3o.dev/services/internal/corekit"
)

func TestValidate(t *testing.T) {
	ring, err := config.GenerateKeyring()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  configserver.Config
		ok   bool
	}{
		{"complete", configserver.Config{Keyring: ring}, true},
		{"poll interval", configserver.Config{Keyring: ring, PollInterval: time.Second}, true},
		{"no keyring", configserver.Config{}, false},
		{"negative poll", configserver.Config{Keyring: ring, PollInterval: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, corekit.ErrConfig)) {
				t.Errorf("Validate(%s) = %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
}
