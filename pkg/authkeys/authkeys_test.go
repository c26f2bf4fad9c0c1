package authkeys_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/pkg/authkeys"
	"m3o.dev/pkg/token"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// fakeAuth answers PublicKeys with whatever the test set last.
type fakeAuth struct {
	mu    sync.Mutex
	resp  *authv1.PublicKeysResponse
	err   error
	calls int
}

func (f *fakeAuth) PublicKeys(context.Context, *authv1.PublicKeysRequest, ...grpc.CallOption) (*authv1.PublicKeysResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.resp, f.err
}

func (f *fakeAuth) set(resp *authv1.PublicKeysResponse, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resp, f.err = resp, err
}

func (f *fakeAuth) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type key struct {
	signer *token.Signer
}

func newKey(t *testing.T) key {
	t.Helper()
	kid, priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key{signer: token.NewSigner(kid, priv)}
}

func (k key) proto() *authv1.PublicKey {
	return &authv1.PublicKey{Kid: k.signer.KeyID(), Key: k.signer.PublicKey()}
}

func (k key) sign(t *testing.T, sub string, iat time.Time) string {
	t.Helper()
	raw, err := k.signer.Sign(token.Claims{Subject: sub, Namespace: "brave-otter", IssuedAt: iat, ExpiresAt: iat.Add(time.Hour), ID: token.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestClient(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	k1, k2 := newKey(t), newKey(t)
	auth := &fakeAuth{}
	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{k1.proto()}}, nil)
	c := authkeys.New(auth, authkeys.Options{})
	v := c.Verifier()

	early := k1.sign(t, "ann", now.Add(-time.Minute))
	late := k1.sign(t, "ann", now.Add(time.Second))
	other := k2.sign(t, "bob", now)

	if _, err := v.Verify(early); err == nil {
		t.Fatalf("Verify() before the first Refresh = nil, want an error: no keys yet")
	}
	refresh := func(step string) {
		t.Helper()
		if err := c.Refresh(ctx); err != nil {
			t.Fatalf("%s: Refresh() = %v, want nil", step, err)
		}
	}
	verify := func(step, raw string, wantOK bool) {
		t.Helper()
		_, err := v.Verify(raw)
		if (err == nil) != wantOK {
			t.Errorf("%s: Verify() = %v, want ok %v", step, err, wantOK)
		}
	}

	refresh("first")
	verify("first", early, true)
	verify("unknown key", other, false)

	auth.set(&authv1.PublicKeysResponse{
		Keys:          []*authv1.PublicKey{k1.proto(), k2.proto()},
		RevokedBefore: map[string]*timestamppb.Timestamp{"ann": timestamppb.New(now)},
	}, nil)
	refresh("revoked")
	verify("issued before revocation", early, false)
	verify("issued after revocation", late, true)
	verify("new key", other, true)
	if _, err := v.Verify(early); !errors.Is(err, authkeys.ErrRevoked) {
		t.Errorf("Verify(revoked) = %v, want it to wrap ErrRevoked", err)
	}

	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{k2.proto()}}, nil)
	refresh("old key retired")
	verify("retired key", late, false)
	verify("current key", other, true)

	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{{Kid: "bad", Key: []byte("short")}}}, nil)
	if err := c.Refresh(ctx); err == nil {
		t.Errorf("Refresh() with no usable key = nil, want an error")
	}
	verify("after a bad answer", other, true)

	auth.set(nil, errors.New("down"))
	if err := c.Refresh(ctx); err == nil {
		t.Errorf("Refresh() with auth down = nil, want an error")
	}
	verify("after an outage", other, true)
}

func TestClientDropsExpiredKeys(t *testing.T) {
	now := time.Now()
	k1, k2 := newKey(t), newKey(t)
	old := k1.proto()
	old.NotAfter = timestamppb.New(now.Add(-time.Second))
	auth := &fakeAuth{}
	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{old, k2.proto()}}, nil)
	c := authkeys.New(auth, authkeys.Options{Clock: func() time.Time { return now }})
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh() = %v, want nil", err)
	}
	keys := c.KeySet().Keys()
	if _, ok := keys[k1.signer.KeyID()]; ok || len(keys) != 1 {
		t.Errorf("KeySet().Keys() = %d keys with the expired one %v, want only the live key", len(keys), ok)
	}
	if got := keys[k2.signer.KeyID()]; !ed25519.PublicKey(got).Equal(k2.signer.PublicKey()) {
		t.Errorf("KeySet().Keys()[live] = %x, want %x", got, k2.signer.PublicKey())
	}
}

func TestRunPolls(t *testing.T) {
	k := newKey(t)
	auth := &fakeAuth{}
	auth.set(&authv1.PublicKeysResponse{Keys: []*authv1.PublicKey{k.proto()}}, nil)
	c := authkeys.New(auth, authkeys.Options{Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	for auth.count() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if _, ok := c.KeySet().Keys()[k.signer.KeyID()]; !ok {
		t.Errorf("KeySet() after Run polled lacks the published key")
	}
}
