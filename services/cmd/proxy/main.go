// Command proxy serves the platform's public entry point on its own, as it
// runs in production: gRPC with TLS, the JSON gateway, /healthz and
// /metrics. `micro server` runs the same proxy in one process with the
// other services.
package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/platform"
	"m3o.dev/services/billing"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/proxy"
	"m3o.dev/services/proxy/proxyserver"
)

func main() {
	corekit.Main(newApp())
}

// newApp is the command: corekit's flags and the proxy's own.
func newApp() *cli.App {
	return corekit.App(proxyserver.Spec, flags(), run)
}

// flags are the proxy's own flags, besides corekit's.
func flags() []cli.Flag {
	f := corekit.OwnFlags(platform.Proxy)
	return []cli.Flag{
		f.String("http-address", fmt.Sprintf("127.0.0.1:%d", platform.ProxyHTTPPort), "public HTTP listen `HOST:PORT`: JSON gateway, /healthz, /metrics"),
		f.String("router-cert-file", "", "certificate (micro/router) for rule lookups, PEM `FILE`"),
		f.String("router-key-file", "", "private key of the router certificate, PEM `FILE`"),
		f.Float64("rate-limit", 100, "calls a second per account; 0 is no limit"),
		f.Int("rate-burst", 200, "calls an account may make at once"),
		f.Int("max-streams", proxy.DefaultMaxStreams, "streams (Watch, Logs) one account or address may hold open at once; 0 is no limit"),
		f.Strings("trusted-proxies", "load balancers (`CIDR`s or addresses) whose X-Forwarded-For names the caller; nobody else's is believed"),
		f.Duration("payment-grace", billing.DefaultGrace, "how long a past-due namespace keeps working before its calls are refused (with --billing-address)"),
	}
}

// run loads the router certificate, opens the HTTP listener and serves
// until ctx ends.
func run(ctx context.Context, c *cli.Context, p *corekit.Process) error {
	router, err := mtls.LoadBundle(c.String("ca-file"), c.String("router-cert-file"), c.String("router-key-file"))
	if err != nil {
		return fmt.Errorf("router certificate: %w", err)
	}
	trusted, err := proxy.ParseTrustedProxies(c.StringSlice("trusted-proxies"))
	if err != nil {
		return fmt.Errorf("%w: --trusted-proxies: %w", corekit.ErrConfig, err)
	}
	httpLis, err := corekit.Listen(c.String("http-address"))
	if err != nil {
		return err
	}
	defer httpLis.Close()
	return proxyserver.Run(ctx, proxyserver.Config{
		HTTPListener:   httpLis,
		Router:         router,
		RateLimit:      proxy.RateLimit{PerSecond: c.Float64("rate-limit"), Burst: c.Int("rate-burst")},
		MaxStreams:     c.Int("max-streams"),
		TrustedProxies: trusted,
		PaymentGrace:   c.Duration("payment-grace"),
	}, p)
}
