package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	configv1 "m3o.dev/proto/m3o/config/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// Table is the store table of the caller's namespace that the bench
// writes; keys are "<run>/c<client>/k<n>".
const Table = "micro-bench"

// ConfigPrefix starts the config path under which each run keeps its
// values, at "micro-bench-<run>.c<client>". Each run has a top-level path
// of its own, which it deletes whole at the end, leaving nothing behind:
// under a shared parent, the parent would stay as an empty object, and
// deleting it could take another run's values.
const ConfigPrefix = "micro-bench-"

// configRoot is the config path of the run's values.
func configRoot(runID string) string { return ConfigPrefix + runID }

// opTimeout bounds one operation, so that a stuck call ends as
// DeadlineExceeded rather than stopping its client for the whole run.
const opTimeout = 10 * time.Second

// Target is where the bench sends its calls: clients of the platform's
// APIs through the public proxy.
type Target struct {
	Store  storev1.StoreServiceClient
	Config configv1.ConfigServiceClient
	// Call makes one call to the user's service; it may be nil when the
	// mix has no calls.
	Call func(ctx context.Context) error
}

// Run drives cfg.Clients clients for cfg.Duration, then reads every key
// back, removes what the run wrote, and reports. Operations in flight when
// the duration ends are finished, not cut off. It fails only when the
// final read-back cannot be made or ctx ends; failed operations are part
// of the report. An error wrapping ErrCleanup comes with a full report.
func Run(ctx context.Context, cfg Config, t Target) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if cfg.Mix.Has(Call) && t.Call == nil {
		return Report{}, errors.New("the mix has calls but no service to call")
	}
	r := &runner{cfg: cfg, t: t, store: NewLedger(), config: NewLedger()}
	start := time.Now()
	rec, limited := r.drive(ctx, start.Add(cfg.Duration))
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	verdict, err := r.verify(ctx)
	if err != nil {
		return Report{}, err
	}
	rep := report(cfg, elapsed, rec, verdict)
	rep.RateLimited = limited
	rep.Stale = r.store.Stale() + r.config.Stale()
	return rep, r.cleanup(ctx)
}

// runner is one run of the bench.
type runner struct {
	cfg    Config
	t      Target
	store  *Ledger
	config *Ledger
	// final is every record of the run the read-back found, which the
	// cleanup deletes.
	final map[string]State
}

// drive runs the clients until deadline and merges what they recorded.
func (r *runner) drive(ctx context.Context, deadline time.Time) (*Recorder, int) {
	clients := make([]*client, r.cfg.Clients)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = r.newClient(i)
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			c.loop(ctx, deadline)
		}(clients[i])
	}
	wg.Wait()
	total, limited := NewRecorder(), 0
	for _, c := range clients {
		total.Merge(c.rec)
		limited += c.limited
	}
	return total, limited
}

// newClient returns client i, with its keys, its config path and a random
// source of its own.
func (r *runner) newClient(i int) *client {
	c := &client{
		runner: r,
		rng:    rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))),
		rec:    NewRecorder(),
		prefix: fmt.Sprintf("%s/c%d/", r.cfg.RunID, i),
		path:   fmt.Sprintf("%s.c%d", configRoot(r.cfg.RunID), i),
	}
	for k := range r.cfg.KeysPerClient {
		c.keys = append(c.keys, fmt.Sprintf("%sk%d", c.prefix, k))
	}
	return c
}

// report builds the report of a run from what it recorded and verified.
func report(cfg Config, elapsed time.Duration, rec *Recorder, v Verdict) Report {
	rep := Report{
		Clients:      cfg.Clients,
		Seconds:      elapsed.Seconds(),
		ErrorsByCode: map[string]int{},
		Lost:         v.Lost,
		Resurrected:  v.Resurrected,
		Checked:      v.Checked,
		ByOp:         rec.Summary(),
	}
	for _, op := range rep.ByOp {
		rep.Ops += op.Ops
		rep.Errors += op.Errors
		for code, n := range op.ErrorsByCode {
			rep.ErrorsByCode[code] += n
		}
	}
	rep.OpsPerSecond = float64(rep.Ops) / elapsed.Seconds()
	return rep
}

// retryDelay returns how long the proxy's rate limit asks a caller to
// wait, and whether err is that refusal: ResourceExhausted with RetryInfo,
// which a full store quota (also ResourceExhausted) does not carry.
func retryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.RetryInfo); ok {
			return info.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// refused reports whether err says for certain that an operation did not
// happen; any other failure (a timeout, a lost connection, an internal
// error) leaves it in doubt.
func refused(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.ResourceExhausted, codes.FailedPrecondition, codes.Aborted, codes.OutOfRange,
		codes.Unimplemented, codes.Unauthenticated:
		return true
	}
	return false
}
