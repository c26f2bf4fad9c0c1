package command

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/logging"
	"m3o.dev/services/billing"
	"m3o.dev/services/billing/stripe"
	"m3o.dev/services/proxy"
	"m3o.dev/services/server"
)

// Stripe's secrets, read from the environment only: a flag's value would
// show in a process listing.
const (
	stripeKeyEnv    = "MICRO_BILLING_STRIPE_KEY"
	stripeSecretEnv = "MICRO_BILLING_STRIPE_WEBHOOK_SECRET"
)

// serverFlags are the flags of `micro server`, each also read from
// MICRO_SERVER_<FLAG>.
func serverFlags() []cli.Flag {
	return append(storageFlags(),
		&cli.StringFlag{Name: "address", Value: "127.0.0.1:8081", Usage: "public gRPC `ADDRESS`", EnvVars: []string{"MICRO_SERVER_ADDRESS"}},
		&cli.StringFlag{Name: "http-address", Value: "127.0.0.1:8080", Usage: "public HTTP `ADDRESS`: JSON gateway, /healthz, /metrics", EnvVars: []string{"MICRO_SERVER_HTTP_ADDRESS"}},
		&cli.StringFlag{Name: "public-address", Usage: "`HOST:PORT` users reach --address at, which invitation mail names (default --address, unless it listens on every interface)", EnvVars: []string{"MICRO_SERVER_PUBLIC_ADDRESS"}},
		&cli.StringSliceFlag{Name: "etcd-endpoints", Usage: "etcd `HOST:PORT`s to use instead of the embedded etcd", EnvVars: []string{"MICRO_SERVER_ETCD_ENDPOINTS"}},
		&cli.Int64Flag{Name: "quota-bytes", Usage: "store quota per tenant database in `BYTES`; 0 is none", EnvVars: []string{"MICRO_SERVER_QUOTA_BYTES"}},
		&cli.Float64Flag{Name: "rate-limit", Value: 100, Usage: "`N` calls a second per account through the proxy; 0 is no limit", EnvVars: []string{"MICRO_SERVER_RATE_LIMIT"}},
		&cli.IntFlag{Name: "rate-burst", Value: 200, Usage: "`N` calls an account may make at once through the proxy", EnvVars: []string{"MICRO_SERVER_RATE_BURST"}},
		&cli.IntFlag{Name: "max-streams", Value: proxy.DefaultMaxStreams, Usage: "`N` streams (Watch, Logs) one account or address may hold open through the proxy at once; 0 is no limit", EnvVars: []string{"MICRO_SERVER_MAX_STREAMS"}},
		&cli.StringSliceFlag{Name: "trusted-proxies", Usage: "load balancers (`CIDR`s or addresses) in front of the proxy whose X-Forwarded-For names the caller", EnvVars: []string{"MICRO_SERVER_TRUSTED_PROXIES"}},
		&cli.StringFlag{Name: "billing-provider", Value: server.BillingLocal, Usage: "payment `PROVIDER`: local (test cards, nothing leaves the machine) or stripe (key and webhook secret in " + stripeKeyEnv + " and " + stripeSecretEnv + ")", EnvVars: []string{"MICRO_SERVER_BILLING_PROVIDER"}},
		&cli.DurationFlag{Name: "payment-grace", Value: billing.DefaultGrace, Usage: "`DURATION` a past-due namespace keeps working before its calls are refused", EnvVars: []string{"MICRO_SERVER_PAYMENT_GRACE"}},
		&cli.StringFlag{Name: "public-url", Usage: "`URL` users open the HTTP address at, for the subscribe page's links (default http://<http-address>)", EnvVars: []string{"MICRO_SERVER_PUBLIC_URL"}},
		&cli.StringFlag{Name: "stripe-price", Usage: "Stripe `PRICE` id of the developer plan, $35.00 a month (--billing-provider stripe)", EnvVars: []string{"MICRO_SERVER_STRIPE_PRICE"}},
		&cli.StringFlag{Name: "stripe-api-url", Usage: "Stripe API base `URL`; empty is Stripe's own", EnvVars: []string{"MICRO_SERVER_STRIPE_API_URL"}},
		&cli.StringFlag{Name: "smtp-address", Usage: "SMTP server `HOST:PORT` that sign-up codes are mailed through, with STARTTLS, as " + server.SMTPUsernameEnv + " with " + server.SMTPPasswordEnv + "; empty writes them to <data-dir>/outbox", EnvVars: []string{"MICRO_SERVER_SMTP_ADDRESS"}},
		&cli.StringFlag{Name: "smtp-from", Usage: "sender `ADDRESS` of sign-up mail (default " + server.DefaultMailFrom + ")", EnvVars: []string{"MICRO_SERVER_SMTP_FROM"}},
		&cli.StringFlag{Name: "smtp-ca-file", Usage: "PEM `FILE` of a CA to trust for the SMTP server's certificate, besides the system's", EnvVars: []string{"MICRO_SERVER_SMTP_CA_FILE", server.SMTPCAFileEnv}},
		&cli.StringFlag{Name: "runtime-dir", Usage: "`DIR` of the runtime's sandbox, builds and logs, outside the data dir (default <data-dir>-runtime, or under /var/lib/m3o/runtime when root cannot share that)", EnvVars: []string{"MICRO_SERVER_RUNTIME_DIR"}},
		&cli.BoolFlag{Name: "allow-local-git", Usage: "let services be built from file:// git URLs and git hosts on loopback or private addresses", EnvVars: []string{"MICRO_SERVER_ALLOW_LOCAL_GIT"}},
		&cli.IntFlag{Name: "default-quota-services", Value: 10, Usage: "`N` services each namespace may run", EnvVars: []string{"MICRO_SERVER_DEFAULT_QUOTA_SERVICES"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log `FORMAT`: text or json", EnvVars: []string{"MICRO_SERVER_LOG_FORMAT"}},
		&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log `LEVEL`: debug, info, warn or error", EnvVars: []string{"MICRO_SERVER_LOG_LEVEL"}},
	)
}

// storageFlags say where a server keeps its data: the flags of `micro
// server` that `micro server reset-admin` shares.
func storageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", Usage: "`DIR` holding every file of the platform (default ~/.micro/server)", EnvVars: []string{"MICRO_SERVER_DATA_DIR"}},
		&cli.StringFlag{Name: "store", Value: server.StorePebble, Usage: "store `BACKEND`: pebble (embedded) or cockroach", EnvVars: []string{"MICRO_SERVER_STORE"}},
		&cli.StringFlag{Name: "store-dsn", Usage: "CockroachDB or PostgreSQL `URL` for --store cockroach", EnvVars: []string{"MICRO_SERVER_STORE_DSN"}},
	}
}

// serverCommand runs the whole platform in this process until SIGINT or
// SIGTERM, then drains and exits 0.
func (a *app) serverCommand() *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run the whole platform on this machine with embedded backends",
		Description: "Creates the CA, certificates and keys under the data dir on first start, then runs\n" +
			"store, registry, auth, config, the runtime, billing and the public proxy, and starts again\n" +
			"the services that were running. The bootstrap admin's password\n" +
			"comes from MICRO_ADMIN_PASSWORD, or is generated, printed once and kept in\n" +
			"<data-dir>/admin-password; 'micro server reset-admin' gives it a new one. The token\n" +
			"signing keys are sealed in the store under <data-dir>/auth-key-encryption-key:\n" +
			"back that file up with the store, which signs nothing without it. Sign-up codes are\n" +
			"mailed through --smtp-address, as MICRO_SMTP_USERNAME with MICRO_SMTP_PASSWORD; without\n" +
			"it each message is written to <data-dir>/outbox/<UTC time>-<recipient>.eml, as a line\n" +
			"printed at start says.",
		Flags:       serverFlags(),
		Action:      a.runServer,
		Subcommands: []*cli.Command{a.resetAdminCommand()},
	}
}

func (a *app) runServer(c *cli.Context) error {
	if c.Args().Present() {
		return unknownCommand(c)
	}
	cfg, err := serverConfig(c)
	if err != nil {
		return err
	}
	logger, err := logging.New(a.stderr, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return usageErrorf("%s", sentence(err.Error()))
	}
	runtime.GOMAXPROCS(serverProcs(runtime.NumCPU(), runtime.GOMAXPROCS(0), os.Getenv("GOMAXPROCS")))
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A generated admin password must not break JSON on stdout.
	passwordOut := a.stdout
	if a.out.json {
		passwordOut = a.stderr
	}
	p, err := server.Start(ctx, cfg, logger, passwordOut)
	if err != nil {
		return cli.Exit(fmt.Sprintf("micro server could not start: %s", sentence(err.Error())), ExitError)
	}
	if err := a.printReady(p, cfg.DataDir); err != nil {
		stop()
	}
	if err := p.Wait(); err != nil && ctx.Err() == nil {
		return cli.Exit(fmt.Sprintf("micro server stopped: %s", sentence(err.Error())), ExitError)
	}
	return nil
}

// serverProcs is the GOMAXPROCS micro server runs with, given the CPUs the
// process may run on, Go's choice and the GOMAXPROCS variable: two where
// Go chose one because the process may use one CPU only (a one-CPU machine
// or affinity) and nobody set it. With one P, a goroutine blocked in a
// system call, such as the store's fsync of its log, holds it until the
// runtime takes it back, and every service in the process waits: under
// micro bench on one pinned core the server used three quarters of its core
// and answered 20–38 % fewer operations than with two. A CPU quota is left
// alone: there a second P would run into throttling.
func serverProcs(cpus, procs int, env string) int {
	if cpus == 1 && procs == 1 && env == "" {
		return 2
	}
	return procs
}

func serverConfig(c *cli.Context) (server.Config, error) {
	dataDir, err := dataDirOf(c)
	if err != nil {
		return server.Config{}, err
	}
	cfg := server.Config{
		DataDir:       dataDir,
		Address:       c.String("address"),
		HTTPAddress:   c.String("http-address"),
		PublicAddress: c.String("public-address"),
		Store:         c.String("store"),
		StoreDSN:      c.String("store-dsn"),
		EtcdEndpoints: c.StringSlice("etcd-endpoints"),
		AdminPassword: os.Getenv("MICRO_ADMIN_PASSWORD"),
		QuotaBytes:    c.Int64("quota-bytes"),
		RateLimit:     proxy.RateLimit{PerSecond: c.Float64("rate-limit"), Burst: c.Int("rate-burst")},
		Mail: server.Mail{
			SMTPAddress: c.String("smtp-address"), From: c.String("smtp-from"), CAFile: c.String("smtp-ca-file"),
			Username: os.Getenv(server.SMTPUsernameEnv), Password: os.Getenv(server.SMTPPasswordEnv),
		},
		MaxStreams: c.Int("max-streams"),
		Billing: server.Billing{
			Provider: c.String("billing-provider"), PublicURL: c.String("public-url"), PaymentGrace: c.Duration("payment-grace"),
			Stripe: stripe.Options{
				Key: os.Getenv(stripeKeyEnv), WebhookSecret: os.Getenv(stripeSecretEnv),
				Price: c.String("stripe-price"), URL: c.String("stripe-api-url"),
			},
		},
		RuntimeDir:    c.String("runtime-dir"),
		AllowLocalGit: c.Bool("allow-local-git"),
		QuotaServices: c.Int("default-quota-services"),
		ModuleCache:   goModuleCache(),
	}
	if cfg.TrustedProxies, err = proxy.ParseTrustedProxies(c.StringSlice("trusted-proxies")); err != nil {
		return server.Config{}, usageErrorf("--trusted-proxies: %s", sentence(err.Error()))
	}
	if err := cfg.Validate(); err != nil {
		return server.Config{}, usageErrorf("%s", sentence(err.Error()))
	}
	return cfg, nil
}

// dataDirOf returns --data-dir, or ~/.micro/server.
func dataDirOf(c *cli.Context) (string, error) {
	if dir := c.String("data-dir"); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usageErrorf("No home directory to keep the data in: pass --data-dir.")
	}
	return filepath.Join(home, ".micro", "server"), nil
}

// goModuleCache is this machine's Go module download cache, which the
// runtime copies the SDK's dependencies from for builds; "" without a go
// command.
func goModuleCache() string {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		return ""
	}
	return filepath.Join(dir, "cache", "download")
}

// printReady writes the one ready line, or its JSON form.
func (a *app) printReady(p *server.Platform, dataDir string) error {
	ready := struct {
		Ready   bool   `json:"ready"`
		GRPC    string `json:"grpc_address"`
		HTTP    string `json:"http_address"`
		DataDir string `json:"data_dir"`
		CAFile  string `json:"ca_file"`
	}{true, p.GRPCAddress(), p.HTTPAddress(), dataDir, p.CAFile()}
	return a.out.print(ready, func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "micro server is ready: gRPC %s, HTTP %s, data %s\n", ready.GRPC, ready.HTTP, ready.DataDir)
	})
}
