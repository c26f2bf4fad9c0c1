package registryserver_test

import (
	"errors"
	"testing"

	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/registry/etcdembed"
	"m3o.dev/services/registry/registryserver"
)

func TestConfigValidate(t *testing.T) {
	if err := (registryserver.Config{}).Validate(); !errors.Is(err, corekit.ErrConfig) {
		t.Errorf("Validate(no backend) = %v, want ErrConfig", err)
	}
}

func TestOpenEtcdNeedsOneSource(t *testing.T) {
	tests := []struct {
		name string
		opts registryserver.EtcdOptions
	}{
		{"neither endpoints nor a directory", registryserver.EtcdOptions{}},
		{"both endpoints and a directory", registryserver.EtcdOptions{
			Endpoints: []string{"127.0.0.1:2379"}, Embedded: &etcdembed.Options{Dir: t.TempDir()},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := registryserver.OpenEtcd(tt.opts); !errors.Is(err, corekit.ErrConfig) {
				t.Errorf("OpenEtcd(%+v) = %v, want ErrConfig", tt.opts, err)
			}
		})
	}
}
