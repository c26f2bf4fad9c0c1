package command

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	healthv1 "google.golang.org/grpc/health/grpc_health_v1"
	grpcmetadata "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/bench"
	"m3o.dev/cli/internal/session"
	"m3o.dev/pkg/platform"
	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// benchCommand loads the platform through its public proxy and checks
// that nothing acknowledged was lost.
func (a *app) benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load the platform through its proxy and check that no acknowledged write is lost",
		Description: "Runs --clients clients for --duration against the current env, as your account. Each client\n" +
			"reads, overwrites, deletes and lists keys of its own in the store table '" + bench.Table + "' (every value\n" +
			"carries the key's sequence number), gets and sets its own config path '" + bench.ConfigPrefix + "RUN.cN', and,\n" +
			"with --service, calls that service's health check through the proxy's routing. At the end it\n" +
			"reads every key back, counts lost writes, stale reads and resurrected deletes, and deletes what\n" +
			"it wrote. The proxy's per-account rate limit (100 calls a second by default) caps the load:\n" +
			"start the server with 'micro server --rate-limit 0' to measure the platform rather than the limit.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "clients", Value: 8, Usage: fmt.Sprintf("`N` clients at once, up to %d", bench.MaxClients)},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long the clients start new operations, such as `30s`"},
			&cli.StringFlag{Name: "mix", Usage: "comma-separated `PARTS` of the load: store, config, call (default: store,config, and call with --service)"},
			&cli.StringFlag{Name: "service", Usage: "`NAME` of a running service of yours to call"},
			&cli.IntFlag{Name: "keys", Value: 16, Usage: fmt.Sprintf("`N` store keys each client owns, up to %d", bench.MaxKeysPerClient)},
		},
		Action: a.remote(a.bench),
	}
}

// benchConfig turns the flags into a run's config.
func benchConfig(c *cli.Context) (bench.Config, error) {
	parts := []string{bench.PartStore, bench.PartConfig}
	if c.String("service") != "" {
		parts = append(parts, bench.PartCall)
	}
	if c.IsSet("mix") {
		parts = strings.Split(c.String("mix"), ",")
	}
	mix, err := bench.ParseMix(parts)
	if err != nil {
		return bench.Config{}, usageErrorf("--mix: %s", sentence(err.Error()))
	}
	switch hasService := c.String("service") != ""; {
	case mix.Has(bench.Call) && !hasService:
		return bench.Config{}, usageErrorf("--mix call needs --service NAME: the service to call.")
	case !mix.Has(bench.Call) && hasService:
		return bench.Config{}, usageErrorf("--service needs call in --mix.")
	}
	cfg := bench.Config{
		Clients: c.Int("clients"), Duration: c.Duration("duration"), Mix: mix,
		KeysPerClient: c.Int("keys"), RunID: runID(),
	}
	if err := cfg.Validate(); err != nil {
		return bench.Config{}, usageErrorf("--%s", sentence(err.Error()))
	}
	return cfg, nil
}

// runID names one run's keys: 8 random hex digits.
func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bench runs the load and prints its report.
func (a *app) bench(c *cli.Context, conn *session.Conn) error {
	cfg, err := benchConfig(c)
	if err != nil {
		return err
	}
	target := bench.Target{
		Store:  storev1.NewStoreServiceClient(conn.Client()),
		Config: configv1.NewConfigServiceClient(conn.Client()),
	}
	if name := c.String("service"); name != "" {
		target.Call = serviceCall(conn, name)
	}
	if err := probe(c.Context, target); err != nil {
		return err
	}
	rep, err := bench.Run(c.Context, cfg, target)
	if errors.Is(err, bench.ErrCleanup) {
		defer a.notef("Some of the run's records were left behind (%s); they expire within an hour.", rootCause(err))
	} else if err != nil {
		return err
	}
	return a.printBench(rep)
}

// serviceCall returns a call to the health check of the user's service
// name, routed by the proxy as any call to that service is. It needs no
// knowledge of the service's API, and every service built with the SDK
// serves it.
func serviceCall(conn *session.Conn, name string) func(context.Context) error {
	health := healthv1.NewHealthClient(conn.Client())
	return func(ctx context.Context) error {
		ctx = grpcmetadata.AppendToOutgoingContext(ctx, platform.ServiceHeader, name)
		_, err := health.Check(ctx, &healthv1.HealthCheckRequest{})
		return err
	}
}

// probe makes one call of each kind before the run, so that a missing
// login, a service that does not run or an unreachable env ends the
// command with one clear error instead of a report full of failures.
func probe(ctx context.Context, t bench.Target) error {
	_, err := t.Store.Read(ctx, &storev1.ReadRequest{Table: bench.Table, Key: "probe"})
	if err != nil && status.Code(err) != codes.NotFound {
		return err
	}
	if t.Call != nil {
		return t.Call(ctx)
	}
	return nil
}

// rateLimitLine says whether the proxy's rate limit shaped the run, so
// that a figure read later says what it measured.
func rateLimitLine(refused int) string {
	if refused == 0 {
		return "The proxy's rate limit refused no call."
	}
	return fmt.Sprintf("The proxy's rate limit refused %d calls: the figures measure the limit.", refused)
}

// benchOps is the order in which the report lists operations.
var benchOps = []bench.Op{bench.StoreRead, bench.StoreWrite, bench.StoreDelete, bench.StoreList, bench.ConfigGet, bench.ConfigSet, bench.Call}

// printBench prints the report: a row per operation, the totals, the
// errors by code and the consistency findings.
func (a *app) printBench(rep bench.Report) error {
	if rep.RateLimited > 0 {
		a.notef("Note: the proxy's per-account rate limit refused %d calls and capped this load; "+
			"start the server with 'micro server --rate-limit 0' to measure without it.", rep.RateLimited)
	}
	return a.out.print(rep, func(t *tabwriter.Writer) {
		row(t, "OPERATION", "OPS", "ERRORS", "P50", "P99", "P99.9", "MAX")
		for _, op := range benchOps {
			if s, ok := rep.ByOp[op]; ok {
				row(t, string(op), fmt.Sprint(s.Ops), fmt.Sprint(s.Errors), ms(s.P50Ms), ms(s.P99Ms), ms(s.P999Ms), ms(s.MaxMs))
			}
		}
		row(t, "total", fmt.Sprint(rep.Ops), fmt.Sprint(rep.Errors))
		fmt.Fprintf(t, "\n%d clients for %.1fs: %.1f ops/s. %s\n", rep.Clients, rep.Seconds, rep.OpsPerSecond, rateLimitLine(rep.RateLimited))
		for _, code := range slices.Sorted(maps.Keys(rep.ErrorsByCode)) {
			fmt.Fprintf(t, "Errors %s: %d.\n", code, rep.ErrorsByCode[code])
		}
		fmt.Fprintf(t, "Lost writes: %d. Stale reads: %d. Resurrected deletes: %d. (%d keys and config paths read back.)\n",
			rep.Lost, rep.Stale, rep.Resurrected, rep.Checked)
	})
}

// ms formats milliseconds for a table cell.
func ms(v float64) string {
	return fmt.Sprintf("%.2fms", v)
}
