package authkeys_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// pushAuth is a gRPC AuthService that pushes what the test sends on its
// channel to the one watcher, and answers PublicKeys with the last of it.
type pushAuth struct {
	authv1.UnimplementedAuthServiceServer
	push chan *authv1.PublicKeysResponse
	end  chan struct{}

	mu      sync.Mutex
	last    *authv1.PublicKeysResponse
	watches int
	polls   int
}

func (p *pushAuth) PublicKeys(context.Context, *authv1.PublicKeysRequest) (*authv1.PublicKeysResponse, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	return p.last, nil
}

func (p *pushAuth) WatchPublicKeys(_ *authv1.WatchPublicKeysRequest, stream grpc.ServerStreamingServer[authv1.WatchPublicKeysResponse]) error {
	p.mu.Lock()
	p.watches++
	p.mu.Unlock()
	for {
		select {
		case resp := <-p.push:
			p.mu.Lock()
			p.last = resp
			p.mu.Unlock()
			if err := stream.Send(&authv1.WatchPublicKeysResponse{Current: resp}); err != nil {
				return err
			}
		case <-p.end:
			return status.Error(codes.Unavailable, "stopping")
		case <-stream.Context().Done():
			return nil
		}
	}
}

func (p *pushAuth) counts() (watches, polls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.watches, p.polls
}

// servePush serves p on a loopback port and returns a client of it.
func servePush(t *testing.T, p *pushAuth) authv1.AuthServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	authv1.RegisterAuthServiceServer(srv, p)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv1.NewAuthServiceClient(conn)
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRunFollowsWatch checks that a Client applies what the auth service
// pushes, with no poll due for an hour, and polls, then watches again,
// when the stream ends.
func TestRunFollowsWatch(t *testing.T) {
	k := newKey(t)
	p := &pushAuth{push: make(chan *authv1.PublicKeysResponse), end: make(chan struct{})}
	c := authkeys.New(servePush(t, p), authkeys.Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	defer func() { cancel(); <-done }()

	keys := []*authv1.PublicKey{k.proto()}
	p.push <- &authv1.PublicKeysResponse{Keys: keys}
	<-c.Loaded()
	claims := token.Claims{Subject: "acct-1", SessionID: "session-1", IssuedAt: time.Now()}
	if err := c.Check(claims); err != nil {
		t.Fatalf("Check(live session) = %v", err)
	}
	p.push <- &authv1.PublicKeysResponse{Keys: keys, RevokedSessions: []string{"session-1"}}
	eventually(t, "pushed session revocation applied", func() bool { return errors.Is(c.Check(claims), authkeys.ErrRevoked) })

	close(p.end)
	eventually(t, "a poll and a new watch after the stream ended", func() bool {
		watches, polls := p.counts()
		return watches >= 2 && polls >= 1
	})
}

// TestCheckRevokedSessions checks that only the revoked session's tokens
// are refused.
func TestCheckRevokedSessions(t *testing.T) {
	k := newKey(t)
	auth := &fakeAuth{}
	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{k.proto()}, RevokedSessions: []string{"gone"}}, nil)
	c := authkeys.New(auth, authkeys.Options{})
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sid     string
		revoked bool
	}{{"gone", true}, {"live", false}, {"", false}} {
		err := c.Check(token.Claims{Subject: "acct-1", SessionID: tt.sid, IssuedAt: time.Now()})
		if errors.Is(err, authkeys.ErrRevoked) != tt.revoked {
			t.Errorf("Check(session %q) = %v, want revoked %v", tt.sid, err, tt.revoked)
		}
	}
}
