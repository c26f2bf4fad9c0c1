package main

import (
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"m3o.dev/services/config/configserver"
)

// parse runs the app's flag parsing on args and returns the Config it
// would serve.
func parse(t *testing.T, args ...string) configserver.Config {
	t.Helper()
	var got configserver.Config
	a := app()
	a.Action = func(c *cli.Context) error {
		got = configFrom(c)
		return nil
	}
	if err := a.Run(append([]string{"config"}, args...)); err != nil {
		t.Fatalf("Run(%q) = %v", args, err)
	}
	return got
}

func TestFlagsAndEnvironment(t *testing.T) {
	t.Setenv("MICRO_CONFIG_ADDRESS", "127.0.0.1:1111")
	t.Setenv("MICRO_CONFIG_STORE_ADDRESS", "store:1")
	t.Setenv("MICRO_CONFIG_POLL_INTERVAL", "250ms")
	t.Setenv("MICRO_CONFIG_KEY", "key-from-env")
	tests := []struct {
		name  string
		args  []string
		check func(configserver.Config) bool
	}{
		{"environment fills a flag", nil, func(c configserver.Config) bool {
			return c.Address == "127.0.0.1:1111" && c.StoreAddress == "store:1" && c.PollInterval == 250*time.Millisecond
		}},
		{"explicit flag wins", []string{"--address", "127.0.0.1:2222"}, func(c configserver.Config) bool {
			return c.Address == "127.0.0.1:2222"
		}},
		{"key comes from MICRO_CONFIG_KEY", nil, func(c configserver.Config) bool {
			return c.Keyring == "key-from-env" && c.KeyringFile == ""
		}},
		{"key file flag", []string{"--key-file", "/etc/m3o/config.key"}, func(c configserver.Config) bool {
			return c.KeyringFile == "/etc/m3o/config.key"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parse(t, tt.args...); !tt.check(got) {
				t.Errorf("parse(%q) = %+v, want %s", tt.args, got, tt.name)
			}
		})
	}
}
