package authkeys_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/authkeys"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// TestStartBeforeAuth starts the keys while auth is down, as a store
// starting first does: tokens are refused until auth answers, and accepted
// once it has.
func TestStartBeforeAuth(t *testing.T) {
	k := newKey(t)
	raw := k.sign(t, "ann", time.Now())
	auth := &fakeAuth{}
	auth.set(nil, status.Error(codes.Unavailable, "connection refused"))
	c := authkeys.New(auth, authkeys.Options{})
	stop := c.Start(t.Context())
	defer stop()

	waitFor(t, "two failed fetches", func() bool { return auth.count() >= 2 })
	if err := c.Ready(); !errors.Is(err, authkeys.ErrNotReady) {
		t.Errorf("Ready() with auth down = %v, want ErrNotReady", err)
	}
	if _, err := c.Verifier().Verify(raw); err == nil {
		t.Errorf("Verify() with auth down = nil, want an error: no keys yet")
	}

	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{k.proto()}}, nil)
	select {
	case <-c.Loaded():
	case <-time.After(30 * time.Second):
		t.Fatal("keys not fetched 30s after auth came up")
	}
	if err := c.Ready(); err != nil {
		t.Errorf("Ready() after auth came up = %v, want nil", err)
	}
	if _, err := c.Verifier().Verify(raw); err != nil {
		t.Errorf("Verify() after auth came up = %v, want nil", err)
	}
}

// hanging never answers: its PublicKeys returns only when the call's
// context ends, and says so.
type hanging struct {
	called, returned chan struct{}
}

func (h *hanging) PublicKeys(ctx context.Context, _ *authv1.PublicKeysRequest, _ ...grpc.CallOption) (*authv1.PublicKeysResponse, error) {
	close(h.called)
	<-ctx.Done()
	close(h.returned)
	return nil, ctx.Err()
}

// TestStopEndsTheWork checks that stop returns only once the fetch in
// flight has ended.
func TestStopEndsTheWork(t *testing.T) {
	h := &hanging{called: make(chan struct{}), returned: make(chan struct{})}
	stop := authkeys.New(h, authkeys.Options{}).Start(t.Context())
	<-h.called
	stop()
	select {
	case <-h.returned:
	default:
		t.Error("stop() returned while a fetch was still in flight")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
