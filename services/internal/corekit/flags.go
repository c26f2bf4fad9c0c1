package corekit

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/platform"
)

// EnvVar names the environment variable of a service's flag:
// MICRO_<SERVICE>_<FLAG>, with dashes as underscores.
func EnvVar(service, flag string) string {
	return "MICRO_" + envWord(service) + "_" + envWord(flag)
}

func envWord(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// StringFlag declares a string flag of service that also reads its
// environment variable; an explicit flag wins.
func StringFlag(service, name, value, usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: []string{EnvVar(service, name)}}
}

// OwnFlags declares a service's own flags, each also read from
// MICRO_<SERVICE>_<FLAG>.
type OwnFlags string

// String declares a string flag.
func (f OwnFlags) String(name, value, usage string) cli.Flag {
	return StringFlag(string(f), name, value, usage)
}

// Strings declares a flag that takes a comma-separated list.
func (f OwnFlags) Strings(name, usage string) cli.Flag {
	return &cli.StringSliceFlag{Name: name, Usage: usage, EnvVars: []string{EnvVar(string(f), name)}}
}

// Int declares an integer flag.
func (f OwnFlags) Int(name string, value int, usage string) cli.Flag {
	return &cli.IntFlag{Name: name, Value: value, Usage: usage, EnvVars: []string{EnvVar(string(f), name)}}
}

// Int64 declares a 64-bit integer flag.
func (f OwnFlags) Int64(name string, value int64, usage string) cli.Flag {
	return &cli.Int64Flag{Name: name, Value: value, Usage: usage, EnvVars: []string{EnvVar(string(f), name)}}
}

// Float64 declares a floating-point flag.
func (f OwnFlags) Float64(name string, value float64, usage string) cli.Flag {
	return &cli.Float64Flag{Name: name, Value: value, Usage: usage, EnvVars: []string{EnvVar(string(f), name)}}
}

// Bool declares a boolean flag, off unless given.
func (f OwnFlags) Bool(name, usage string) cli.Flag {
	return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: []string{EnvVar(string(f), name)}}
}

// Duration declares a duration flag.
func (f OwnFlags) Duration(name string, value time.Duration, usage string) cli.Flag {
	return &cli.DurationFlag{Name: name, Value: value, Usage: usage, EnvVars: []string{EnvVar(string(f), name)}}
}

// Flags are the flags every core service binary takes, in this order:
// where it listens, its certificate, the core services it calls, and its
// logs.
func Flags(spec Spec) []cli.Flag {
	str := func(name, value, usage string) cli.Flag { return StringFlag(spec.Name, name, value, usage) }
	flags := []cli.Flag{
		str("address", platform.DefaultAddress(spec.Name), "gRPC listen `HOST:PORT`"),
		str("health-address", "", "plain-text gRPC health-only listen `HOST:PORT`, for probes; empty is off"),
		str("advertise-address", "", "`HOST:PORT` other services reach this one at, listed in the registry; empty derives it from --address"),
		str("ca-file", "", "platform CA certificate, PEM `FILE`"),
		str("cert-file", "", "this service's certificate (micro/"+spec.Name+"), PEM `FILE`"),
		str("key-file", "", "this service's private key, PEM `FILE`"),
	}
	for _, peer := range spec.peers() {
		flags = append(flags, str(peer+"-address", "", peerUsage(peer)))
	}
	flags = append(flags,
		str("log-format", "json", "log format: json or text"),
		str("log-level", "info", "log level: debug, info, warn or error"),
	)
	return withRenames(spec, flags)
}

// withRenames adds each renamed flag's old name as a hidden flag of its
// own, so that a value given under it can be both used and noticed.
func withRenames(spec Spec, flags []cli.Flag) []cli.Flag {
	for _, old := range slices.Sorted(maps.Keys(spec.Renamed)) {
		flags = append(flags, &cli.StringFlag{
			Name: old, EnvVars: []string{EnvVar(spec.Name, old)}, Hidden: true,
			Usage: "deprecated: use --" + spec.Renamed[old],
		})
	}
	return flags
}

// value returns flag name, or the value given under its old name when only
// that was set.
func value(c *cli.Context, spec Spec, name string) string {
	for old, current := range spec.Renamed {
		if current == name && !c.IsSet(name) && c.IsSet(old) {
			return c.String(old)
		}
	}
	return c.String(name)
}

// renamedInUse lists, as hints, the old names that were set.
func renamedInUse(c *cli.Context, spec Spec) []string {
	var used []string
	for _, old := range slices.Sorted(maps.Keys(spec.Renamed)) {
		if c.IsSet(old) {
			used = append(used, "--"+old+" (or "+EnvVar(spec.Name, old)+") is now --"+spec.Renamed[old])
		}
	}
	return used
}

// peerUsage describes a peer's address flag. Every peer address may list
// the service's replicas, comma-separated, which calls go round-robin over.
func peerUsage(peer string) string {
	const replicas = " (replicas: a comma-separated list)"
	switch peer {
	case platform.Auth:
		return "auth service `HOST:PORT`" + replicas + ", whose keys verify access tokens; empty accepts only mTLS callers"
	case platform.Registry:
		return "registry service `HOST:PORT`, where this service lists itself; empty lists nothing"
	default:
		return peer + " service `HOST:PORT`" + replicas
	}
}

// ConfigFrom reads the common Config out of parsed flags.
func ConfigFrom(c *cli.Context, spec Spec) Config {
	get := func(name string) string { return value(c, spec, name) }
	cfg := Config{
		Address:          get("address"),
		HealthAddress:    get("health-address"),
		AdvertiseAddress: get("advertise-address"),
		CAFile:           get("ca-file"),
		CertFile:         get("cert-file"),
		KeyFile:          get("key-file"),
		Peers:            Peers{},
		LogFormat:        get("log-format"),
		LogLevel:         get("log-level"),
	}
	for _, peer := range spec.peers() {
		if addr := get(peer + "-address"); addr != "" {
			cfg.Peers[peer] = addr
		}
	}
	return cfg
}
