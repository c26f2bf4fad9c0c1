// Command config serves m3o.config.v1.ConfigService on its own, as it runs
// in production; `micro server` runs the same service in one process with
// the others.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/config"
	"m3o.dev/services/config/configserver"
	"m3o.dev/services/internal/corekit"
)

// keyEnv holds the keyring itself, for deployments that inject secrets as
// environment variables. A flag's value would show in a process listing.
const keyEnv = "MICRO_CONFIG_KEY"

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the config service's own.
func newApp() *cli.App {
	spec := configserver.Spec
	spec.Preflight = keyringMovedHint
	return corekit.App(spec, flags(), run)
}

// flags are the config service's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Config)
	return []cli.Flag{
		f.String("keyring-file", "", "config encryption keyring `FILE` (or the keyring itself in "+keyEnv+")"),
		f.Duration("poll-interval", 0, "how often watchers look for changes from other replicas"),
	}
}

// run loads the keyring and serves until ctx ends.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	ring, err := loadKeyring(c.String("keyring-file"), os.Getenv(keyEnv))
	if err != nil {
		return err
	}
	return configserver.Run(ctx, configserver.Config{Keyring: ring, PollInterval: c.Duration("poll-interval")}, p)
}

// loadKeyring reads the keyring from exactly one of its file and the
// environment.
func loadKeyring(file, env string) (*config.Keyring, error) {
	switch {
	case file != "" && env != "":
		return nil, fmt.Errorf("%w: give the keyring as --keyring-file or in %s, not both", corekit.ErrConfig, keyEnv)
	case file != "":
		return config.LoadKeyring(file)
	case env != "":
		ring, err := config.ParseKeyring([]byte(env))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyEnv, err)
		}
		return ring, nil
	}
	return nil, fmt.Errorf("%w: no keyring: pass --keyring-file or set %s", corekit.ErrConfig, keyEnv)
}

// keyringMovedHint catches the one old use that cannot stay an alias:
// --key-file named the keyring before it named the TLS key, as in every
// other service. A keyring found there gets this sentence rather than a TLS
// error.
func keyringMovedHint(c *cli.Context) error {
	if c.String("keyring-file") != "" || os.Getenv(keyEnv) != "" {
		return nil
	}
	data, err := os.ReadFile(c.String("key-file"))
	if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return fmt.Errorf("%w: --key-file now names the TLS private key; pass the keyring with --keyring-file", corekit.ErrConfig)
	}
	return nil
}
