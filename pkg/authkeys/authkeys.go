// Package authkeys keeps a service's view of the auth service's public keys
// and revocations current, so that it verifies access tokens locally and
// still refuses a revoked account's or a logged-out session's tokens
// moments after the revocation.
//
// A Client follows AuthService.WatchPublicKeys, which pushes the keys and
// revocations whenever they change, and polls AuthService.PublicKeys while
// that stream is down (or when the Fetcher cannot watch). Each answer
// replaces the token.KeySet that the service's token.Verifier trusts, and
// the revoked_before times and revoked sessions that the Client's Check
// consults; a Verifier from Client.Verifier has that check plugged in.
// Between answers the previous one stands, so a brief outage of the auth
// service changes nothing.
package authkeys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	"m3o.dev/pkg/periodic"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// DefaultInterval is how often a Client polls when not told.
const DefaultInterval = 5 * time.Second

// ErrRevoked is returned by Check for a token of an account revoked after
// the token was issued, or of a session that was revoked, as at logout.
var ErrRevoked = errors.New("revoked")

// Fetcher is the part of the auth service's AuthService a Client needs;
// authv1.AuthServiceClient has it. PublicKeys is public, so the connection
// needs no token.
type Fetcher interface {
	PublicKeys(ctx context.Context, in *authv1.PublicKeysRequest, opts ...grpc.CallOption) (*authv1.PublicKeysResponse, error)
}

// Watcher is the streaming part of the auth service's AuthService; a
// Client whose Fetcher has it follows the keys as they change instead of
// polling. authv1.AuthServiceClient has it.
type Watcher interface {
	WatchPublicKeys(ctx context.Context, in *authv1.WatchPublicKeysRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[authv1.WatchPublicKeysResponse], error)
}

// Options tune a Client.
type Options struct {
	// Interval is how often Run polls while it cannot watch; zero means
	// DefaultInterval.
	Interval time.Duration
	// Logger receives poll failures; nil discards them.
	Logger *slog.Logger
	// Clock is the time source for dropping expired keys; nil means
	// time.Now.
	Clock func() time.Time
}

// Client keeps the keys and revocations current. It is safe for
// concurrent use.
type Client struct {
	fetcher  Fetcher
	interval time.Duration
	logger   *slog.Logger
	now      func() time.Time
	keys     *token.KeySet

	mu       sync.RWMutex
	revoked  map[string]time.Time
	sessions map[string]bool

	loaded     chan struct{}
	loadedOnce sync.Once
}

// New returns a Client that fetches from f. Its KeySet is empty until the
// first Refresh, so a service should Refresh once before it serves.
func New(f Fetcher, opts Options) *Client {
	c := &Client{fetcher: f, interval: opts.Interval, logger: opts.Logger, now: opts.Clock,
		keys: token.NewKeySet(), revoked: map[string]time.Time{}, sessions: map[string]bool{}, loaded: make(chan struct{})}
	if c.interval <= 0 {
		c.interval = DefaultInterval
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// KeySet returns the set of published keys, which Refresh keeps current.
func (c *Client) KeySet() *token.KeySet { return c.keys }

// Verifier returns a verifier that trusts the published keys and refuses
// revoked accounts' tokens; opts add to those two. Until the keys are
// first fetched it judges no token (token.ErrNotReady), so that a service
// started before auth answers "try again" rather than "log in again".
func (c *Client) Verifier(opts ...token.VerifierOption) *token.Verifier {
	own := []token.VerifierOption{token.WithRevocationCheck(c.Check), token.WithReady(c.Ready)}
	return token.NewVerifier(c.keys, append(own, opts...)...)
}

// Check refuses claims of an account whose tokens issued before a time
// were revoked, and claims of a revoked session; it is a
// token.WithRevocationCheck check.
func (c *Client) Check(claims token.Claims) error {
	c.mu.RLock()
	before, ok := c.revoked[claims.Subject]
	session := claims.SessionID != "" && c.sessions[claims.SessionID]
	c.mu.RUnlock()
	if ok && claims.IssuedAt.Before(before) {
		return fmt.Errorf("account's tokens %w before %s", ErrRevoked, before.Format(time.RFC3339))
	}
	if session {
		return fmt.Errorf("session %w", ErrRevoked)
	}
	return nil
}

// Refresh fetches the keys and revocations once. An answer without a
// usable key is refused and the previous state kept, since adopting it
// would refuse every token.
func (c *Client) Refresh(ctx context.Context) error {
	resp, err := c.fetcher.PublicKeys(ctx, &authv1.PublicKeysRequest{})
	if err != nil {
		return fmt.Errorf("fetch public keys: %w", err)
	}
	return c.apply(resp)
}

// apply adopts an answer of PublicKeys, unless it holds no usable key.
func (c *Client) apply(resp *authv1.PublicKeysResponse) error {
	keys := c.usable(resp.GetKeys())
	if len(keys) == 0 {
		return errors.New("public keys: the answer holds no usable key")
	}
	revoked := make(map[string]time.Time, len(resp.GetRevokedBefore()))
	for id, ts := range resp.GetRevokedBefore() {
		revoked[id] = ts.AsTime()
	}
	sessions := make(map[string]bool, len(resp.GetRevokedSessions()))
	for _, sid := range resp.GetRevokedSessions() {
		sessions[sid] = true
	}
	c.keys.Replace(keys)
	c.mu.Lock()
	c.revoked, c.sessions = revoked, sessions
	c.mu.Unlock()
	c.loadedOnce.Do(func() { close(c.loaded) })
	return nil
}

// usable returns the well-formed keys that may still verify a live token.
func (c *Client) usable(published []*authv1.PublicKey) map[string]ed25519.PublicKey {
	now := c.now()
	keys := make(map[string]ed25519.PublicKey, len(published))
	for _, k := range published {
		if k.GetKid() == "" || len(k.GetKey()) != ed25519.PublicKeySize {
			c.logger.Warn("skip malformed public key", "kid", k.GetKid())
			continue
		}
		if k.GetNotAfter() != nil && !now.Before(k.GetNotAfter().AsTime()) {
			continue
		}
		keys[k.GetKid()] = ed25519.PublicKey(k.GetKey())
	}
	return keys
}

// Run keeps the keys current until ctx is done: it follows
// WatchPublicKeys when the Fetcher is also a Watcher, polling every
// interval while the stream is down, and otherwise polls. Failures are
// logged and the previous keys and revocations kept.
func (c *Client) Run(ctx context.Context) {
	if _, ok := c.fetcher.(Watcher); ok {
		periodic.WatchOrPoll(ctx, c.interval, c.logger, "follow public keys", c.watch, c.Refresh)
		return
	}
	periodic.Every(ctx, c.interval, c.logger, "refresh public keys", c.Refresh)
}

// watch applies each answer of one WatchPublicKeys stream until it fails.
func (c *Client) watch(ctx context.Context) error {
	stream, err := c.fetcher.(Watcher).WatchPublicKeys(ctx, &authv1.WatchPublicKeysRequest{})
	if err != nil {
		return fmt.Errorf("watch public keys: %w", err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("watch public keys: %w", err)
		}
		if err := c.apply(resp.GetCurrent()); err != nil {
			c.logger.WarnContext(ctx, "ignore pushed public keys", "error", err)
		}
	}
}
