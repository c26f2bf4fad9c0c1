package rules_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// fakeLister serves one namespace's rules and counts the calls.
type fakeLister struct {
	calls atomic.Int32
	rules atomic.Pointer[[]*authv1.Rule]
	fail  atomic.Bool
}

func (f *fakeLister) List(_ context.Context, in *authv1.RulesServiceListRequest, _ ...grpc.CallOption) (*authv1.RulesServiceListResponse, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return nil, errors.New("unavailable")
	}
	var out []*authv1.Rule
	for _, r := range *f.rules.Load() {
		if r.GetNamespace() == in.GetNamespace() {
			out = append(out, r)
		}
	}
	return &authv1.RulesServiceListResponse{Rules: out}, nil
}

func (f *fakeLister) set(rs ...rules.Rule) {
	ps := make([]*authv1.Rule, 0, len(rs))
	for _, r := range rs {
		ps = append(ps, rules.ToProto(r))
	}
	f.rules.Store(&ps)
}

func TestCache(t *testing.T) {
	ctx := t.Context()
	l := &fakeLister{}
	l.set(rules.NamespaceDefault("brave-otter"))
	c := rules.NewCache(l, slog.New(slog.DiscardHandler), 0)
	dev := rules.Caller{Namespace: "brave-otter", Roles: []string{"developer"}}
	read := svc("m3o.store.v1.StoreService", "Read")

	decide := func(step string, want rules.Access) {
		t.Helper()
		got, err := c.Decide(ctx, dev, "brave-otter", read)
		if err != nil || got.Access != want {
			t.Fatalf("%s: Decide() = %s, %v, want %s", step, got.Access, err, want)
		}
	}
	decide("first use", rules.Grant)
	decide("cached", rules.Grant)
	if got := l.calls.Load(); got != 1 {
		t.Errorf("List calls after two decisions = %d, want 1", got)
	}

	l.set(rules.NamespaceDefault("brave-otter"), rule("no-read", "*", read, rules.Deny, 10))
	decide("before refresh", rules.Grant)
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("Refresh() = %v, want nil", err)
	}
	decide("after refresh", rules.Deny)

	l.fail.Store(true)
	if err := c.Refresh(ctx); err == nil {
		t.Errorf("Refresh() with auth down = nil, want an error")
	}
	decide("stale after a failed refresh", rules.Deny)
	if _, err := c.Decide(ctx, dev, "calm-lake", read); err == nil {
		t.Errorf("Decide(unfetchable namespace) error = nil, want an error")
	}
}
