// Package tokenkeys keeps a core service process's view of the auth
// service's token keys and revocations current, for a service that must
// start whether or not auth is up yet.
//
// In production the store starts before auth, because auth keeps its state
// in the store, and the proxy and registry may well start before it too. So
// Start never waits for auth: it dials auth over mTLS and fetches the keys
// in the background, retrying quickly until the first answer and then
// polling as authkeys does. Until that first answer every bearer token is
// refused, which is right: no token can be checked, and callers identified
// by mTLS alone are unaffected.
package tokenkeys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// AuthIdentity is who the auth service must prove to be.
var AuthIdentity = mtls.Identity{Namespace: "micro", Service: "auth"}

// ErrNotReady is returned by Ready until the keys have been fetched once.
var ErrNotReady = errors.New("token keys not fetched from auth yet")

// Retry bounds of the first fetch: quick enough that a service starting
// beside auth verifies tokens a moment after auth answers, which matters
// because the proxy may already be letting users' tokens through to it.
// PublicKeys is cheap, so retrying every couple of seconds while auth is
// down costs nothing. Each attempt is bounded too, since an address that
// accepts connections but never answers would otherwise hold the first
// fetch forever.
const (
	firstRetryMin   = 200 * time.Millisecond
	firstRetryMax   = 2 * time.Second
	firstTryTimeout = 10 * time.Second
	warnEvery       = 30 * time.Second
)

// Options tune Start.
type Options struct {
	// Interval is how often the keys are refetched once they have been
	// fetched; zero means authkeys.DefaultInterval.
	Interval time.Duration
	// Logger receives fetch failures; nil discards them.
	Logger *slog.Logger
}

// Keys is a verifier kept current from the auth service.
type Keys struct {
	addr     string
	conn     *grpc.ClientConn
	client   *authkeys.Client
	verifier *token.Verifier
	logger   *slog.Logger
	loaded   chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
}

// Start dials the auth service at addr with bundle's certificate, expecting
// AuthIdentity, and keeps the keys current until ctx ends or Close is
// called. It fails only when the address cannot be dialled at all; an
// auth service that is down or not yet up is retried.
func Start(ctx context.Context, addr string, bundle *mtls.Bundle, opts Options) (*Keys, error) {
	conn, err := grpcclient.Dial(addr, bundle, AuthIdentity)
	if err != nil {
		return nil, fmt.Errorf("token keys: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client := authkeys.New(authv1.NewAuthServiceClient(conn), authkeys.Options{Interval: opts.Interval, Logger: logger})
	ctx, cancel := context.WithCancel(ctx)
	k := &Keys{
		addr: addr, conn: conn, client: client, verifier: client.Verifier(), logger: logger,
		loaded: make(chan struct{}), cancel: cancel, done: make(chan struct{}),
	}
	go k.run(ctx)
	return k, nil
}

// Verifier returns a verifier kept current from the auth service at addr
// and a function that stops keeping it current. With no address it returns
// a nil verifier, which leaves only callers identified by mTLS.
func Verifier(ctx context.Context, addr string, bundle *mtls.Bundle, opts Options) (*token.Verifier, func(), error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	keys, err := Start(ctx, addr, bundle, opts)
	if err != nil {
		return nil, nil, err
	}
	return keys.Verifier(), keys.Close, nil
}

// run fetches the keys until the first success, then polls until ctx ends.
func (k *Keys) run(ctx context.Context) {
	defer close(k.done)
	if !k.fetchFirst(ctx) {
		return
	}
	close(k.loaded)
	k.logger.InfoContext(ctx, "token keys fetched from auth", "auth_address", k.addr)
	k.client.Run(ctx)
}

// fetchFirst retries Refresh with a doubling delay until it succeeds, and
// reports false when ctx ended first. A failure is a warning at first and
// then once every warnEvery, and otherwise debug: auth still starting is
// the usual reason, and a line every retry would bury everything else.
func (k *Keys) fetchFirst(ctx context.Context) bool {
	delay := firstRetryMin
	var warned time.Time
	for {
		err := k.refresh(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		level := slog.LevelDebug
		if time.Since(warned) >= warnEvery {
			level, warned = slog.LevelWarn, time.Now()
		}
		k.logger.Log(ctx, level, "token keys not fetched yet; bearer tokens are refused until they are",
			"auth_address", k.addr, "retry_in", delay.String(), "error", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, firstRetryMax)
	}
}

// refresh is one bounded attempt at fetching the keys.
func (k *Keys) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, firstTryTimeout)
	defer cancel()
	return k.client.Refresh(ctx)
}

// Verifier returns the verifier that trusts the published keys and refuses
// revoked accounts' tokens. It is the same verifier every time, so its
// cache of verified tokens is shared.
func (k *Keys) Verifier() *token.Verifier { return k.verifier }

// Ready returns nil once the keys have been fetched, and ErrNotReady
// before; it is meant for a readiness probe.
func (k *Keys) Ready() error {
	select {
	case <-k.loaded:
		return nil
	default:
		return fmt.Errorf("%w (auth at %s)", ErrNotReady, k.addr)
	}
}

// Loaded is closed once the keys have been fetched.
func (k *Keys) Loaded() <-chan struct{} { return k.loaded }

// Close stops keeping the keys current and closes the connection to auth.
// The verifier keeps the keys it last had.
func (k *Keys) Close() {
	k.cancel()
	<-k.done
	k.conn.Close()
}
