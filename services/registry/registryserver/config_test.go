package registryserver_test

import (
	"errors"
	"testing"

	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/registry/registryserver"
)

func TestConfigValidate(t *testing.T) {
	if err := (registryserver.Config{}).Validate(); !errors.Is(err, corekit.ErrConfig) {
		t.Errorf("Validate(no backend) = %v, want ErrConfig", err)
	}
}

func TestOpenEtcdNeedsOneSource(t *testing.T) {
	tests := []struct {
		name      string
		endpoints []string
		dir       string
	}{
		{"neither endpoints nor a directory", nil, ""},
		{"both endpoints and a directory", []string{"127.0.0.1:2379"}, t.TempDir()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := registryserver.OpenEtcd(tt.endpoints, tt.dir, nil); !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("OpenEtcd(%v, %q) = %v, want ErrConfig", tt.endpoints, tt.dir, err)
			}
		})
	}
}
