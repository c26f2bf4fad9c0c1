// Package etcdembed runs a single-member etcd server inside the current
// process, on loopback, for `micro server` and for tests that need a real
// etcd. Production points the registry at an etcd cluster instead, so only
// the packages that start a server import this one and pay for etcd's server
// dependencies.
package etcdembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// DefaultStartTimeout bounds how long Start waits for the member to be ready.
const DefaultStartTimeout = time.Minute

// ErrStart is returned when the server does not become ready.
var ErrStart = errors.New("etcd did not start")

// Options configures an embedded server.
type Options struct {
	// Dir is the data directory; it is created when missing and reused when
	// it already holds a member, so the data survive a restart.
	Dir string
	// ClientURL is where clients connect, such as http://127.0.0.1:2379.
	// Empty picks a free loopback port.
	ClientURL string
	// PeerURL is the raft peer listener. Empty picks a free loopback port.
	PeerURL string
	// Logger receives etcd's errors; nil discards them. Anything below error
	// level is dropped, because etcd is chatty and the registry logs what
	// matters to the platform.
	Logger *slog.Logger
	// StartTimeout bounds the wait for readiness; zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// UnsafeNoFsync skips fsync, trading durability across a crash of the
	// machine for speed. Only tests that throw the data away set it.
	UnsafeNoFsync bool
	// TLS, when set, is the member's certificate under the etcd CA: clients
	// and peers must then speak TLS and present a certificate of that CA.
	// Without it etcd speaks plain text, which only tests use.
	TLS *TLSFiles
}

// Server is a running embedded etcd member.
type Server struct {
	etcd      *embed.Etcd
	closeOnce sync.Once
	closing   *atomic.Bool
	clientURL string
	peerURL   string
}

// Start starts a single-member etcd server and waits until it serves clients.
func Start(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("start etcd: %w", errors.New("data directory is required"))
	}
	closing := new(atomic.Bool)
	e, clientURL, peerURL, err := listen(opts, closing)
	if err != nil {
		return nil, fmt.Errorf("start etcd in %s: %w", opts.Dir, err)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("start etcd in %s: %w", opts.Dir, errors.Join(ErrStart, err))
	case <-time.After(timeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("start etcd in %s: not ready after %s: %w", opts.Dir, timeout, ErrStart)
	}
	return &Server{etcd: e, closing: closing, clientURL: clientURL, peerURL: peerURL}, nil
}

// portAttempts bounds the tries on picked ports that another process took
// in the meantime.
const portAttempts = 5

// listen starts etcd, trying other free ports when one it picked was taken
// before etcd could bind it.
func listen(opts Options, closing *atomic.Bool) (*embed.Etcd, string, string, error) {
	for attempt := 1; ; attempt++ {
		cfg, clientURL, peerURL, err := config(opts, closing)
		if err != nil {
			return nil, "", "", err
		}
		e, err := embed.StartEtcd(cfg)
		if err == nil {
			return e, clientURL, peerURL, nil
		}
		picked := opts.ClientURL == "" || opts.PeerURL == ""
		if !picked || !errors.Is(err, syscall.EADDRINUSE) || attempt == portAttempts {
			return nil, "", "", err
		}
	}
}

// config builds etcd's configuration from opts.
func config(opts Options, closing *atomic.Bool) (*embed.Config, string, string, error) {
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	clientURL, err := orFreeURL(opts.ClientURL, scheme)
	if err != nil {
		return nil, "", "", err
	}
	peerURL, err := orFreeURL(opts.PeerURL, scheme)
	if err != nil {
		return nil, "", "", err
	}
	cu, err := url.Parse(clientURL)
	if err != nil {
		return nil, "", "", fmt.Errorf("client URL: %w", err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return nil, "", "", fmt.Errorf("peer URL: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "m3o"
	cfg.Dir = opts.Dir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Without periodic compaction the history of every heartbeat-free
	// re-registration would grow the database without bound.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.UnsafeNoFsync = opts.UnsafeNoFsync
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(newSlogCore(opts.Logger, closing)))
	if opts.TLS != nil {
		cfg.ClientTLSInfo = tlsInfo(*opts.TLS)
		cfg.PeerTLSInfo = tlsInfo(*opts.TLS)
	}
	return cfg, clientURL, peerURL, nil
}

// tlsInfo requires a client certificate of the etcd CA on every
// connection, from clients and peers alike.
func tlsInfo(f TLSFiles) transport.TLSInfo {
	return transport.TLSInfo{
		CertFile: f.CertFile, KeyFile: f.KeyFile, TrustedCAFile: f.CAFile,
		ClientCertAuth: true, ClientCertFile: f.CertFile, ClientKeyFile: f.KeyFile,
	}
}

// orFreeURL returns u, or a loopback URL with scheme on a port that was free
// a moment ago when u is empty. etcd opens its own listeners, so the port is
// found by binding and releasing it; another process may take it in the
// window, and Start then tries again on another.
func orFreeURL(u, scheme string) (string, error) {
	if u != "" {
		return u, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return scheme + "://" + addr, nil
}

// Endpoints returns the client endpoints, for clientv3.Config.Endpoints.
func (s *Server) Endpoints() []string {
	u, err := url.Parse(s.clientURL)
	if err != nil {
		return []string{s.clientURL}
	}
	return []string{u.Host}
}

// ClientURL returns the client URL; passing it back in Options.ClientURL
// restarts the member where its clients already look for it.
func (s *Server) ClientURL() string { return s.clientURL }

// PeerURL returns the peer URL, for restarting on the same port.
func (s *Server) PeerURL() string { return s.peerURL }

// Close stops the server, waiting for in-flight requests and the raft loop.
// It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.etcd.Close()
	})
}
