package rules_test

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"m3o.dev/pkg/rules"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// pushRules is a gRPC RulesService whose Watch of every namespace starts
// with a resync and then pushes what the test sends; List answers from
// the fakeLister.
type pushRules struct {
	authv1.UnimplementedRulesServiceServer
	lister  *fakeLister
	push    chan *authv1.RulesServiceWatchResponse
	watches atomic.Int32
}

func (p *pushRules) List(ctx context.Context, in *authv1.RulesServiceListRequest) (*authv1.RulesServiceListResponse, error) {
	return p.lister.List(ctx, in)
}

func (p *pushRules) Watch(in *authv1.RulesServiceWatchRequest, stream grpc.ServerStreamingServer[authv1.RulesServiceWatchResponse]) error {
	p.watches.Add(1)
	if !in.GetAllNamespaces() {
		return nil
	}
	if err := stream.Send(&authv1.RulesServiceWatchResponse{Resync: true}); err != nil {
		return err
	}
	for {
		select {
		case resp := <-p.push:
			if err := stream.Send(resp); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

// TestCacheFollowsWatch checks that pushed rules replace the cached ones
// at once, with no refresh due for an hour.
func TestCacheFollowsWatch(t *testing.T) {
	l := &fakeLister{}
	l.set(rules.NamespaceDefault("brave-otter"))
	p := &pushRules{lister: l, push: make(chan *authv1.RulesServiceWatchResponse)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	authv1.RegisterRulesServiceServer(srv, p)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	c := rules.NewCache(authv1.NewRulesServiceClient(conn), slog.New(slog.DiscardHandler), time.Hour)
	dev := rules.Caller{Namespace: "brave-otter", Roles: []string{"developer"}}
	read := svc("m3o.store.v1.StoreService", "Read")
	if d, err := c.Decide(t.Context(), dev, "brave-otter", read); err != nil || d.Access != rules.Grant {
		t.Fatalf("Decide(first use) = %v, %v, want a grant", d.Access, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	deny := rule("no-read", "*", read, rules.Deny, 10)
	p.push <- &authv1.RulesServiceWatchResponse{Namespace: "brave-otter", Rules: []*authv1.Rule{
		rules.ToProto(rules.NamespaceDefault("brave-otter")), rules.ToProto(deny),
	}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := c.Decide(t.Context(), dev, "brave-otter", read)
		if err == nil && d.Access == rules.Deny {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Decide() after the push = %v, %v, want a denial within 10s", d.Access, err)
		}
		time.Sleep(time.Millisecond)
	}
	if got := l.calls.Load(); got > 2 {
		t.Errorf("List calls = %d, want the first fetch and at most the resync's", got)
	}
}
