package service_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest/hellopb"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// receive waits for a value on c for up to settle.
func receive[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(settle):
		t.Fatalf("no %s after %s", what, settle)
		var zero T
		return zero
	}
}

// TestPlatformRegisters checks what an instance registers, as whom, and
// that it heartbeats.
func TestPlatformRegisters(t *testing.T) {
	s := newStandIn(t)
	r := start(t, s.env(t), "Hello")
	if line := r.logs.waitFor(t, func(l logLine) bool { return l.Mode != "" }); line.Mode != "platform" {
		t.Errorf("log mode = %q, want platform", line.Mode)
	}
	req := receive(t, s.registered, "registration")
	node := req.GetService().GetNodes()[0]
	if !strings.HasPrefix(node.GetId(), "hello-2-") || node.GetAddress() != r.addr {
		t.Errorf("registered node %v, want id hello-2-… at %s", node, r.addr)
	}
	want := &registryv1.RegisterRequest{TtlSeconds: 15, Service: &registryv1.Service{
		Name: "hello", Version: "v1",
		Endpoints: []*registryv1.Endpoint{
			{Name: "Hello.Call", Request: "hello.CallRequest", Response: "hello.CallResponse", Metadata: map[string]string{"grpc_method": "/hello.Hello/Call"}},
			{Name: "Hello.Hold", Request: "hello.HoldRequest", Response: "hello.HoldResponse", Metadata: map[string]string{"grpc_method": "/hello.Hello/Hold"}},
			{Name: "Hello.Stream", Request: "hello.StreamRequest", Response: "hello.StreamResponse", Metadata: map[string]string{"grpc_method": "/hello.Hello/Stream", "stream": "server"}},
		},
		Nodes: []*registryv1.Node{{Id: node.GetId(), Address: r.addr, Metadata: map[string]string{"instance": "2"}}},
	}}
	if diff := cmp.Diff(want, req, protocmp.Transform()); diff != "" {
		t.Errorf("Register() request (-want +got):\n%s", diff)
	}
	if next := receive(t, s.registered, "heartbeat"); next.GetService().GetNodes()[0].GetId() != node.GetId() {
		t.Errorf("heartbeat registered %v, want the same node %s", next.GetService().GetNodes(), node.GetId())
	}
	logins, auth, _ := s.seen()
	if diff := cmp.Diff([]string{"secret"}, logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	if len(auth) < 2 || auth[0] != "Bearer access-1" || auth[1] != "Bearer access-1" {
		t.Errorf("registrations carried authorization %q, want the service account's token", auth)
	}
}

// proxied returns a context as the proxy sends a call it relays for the
// account acct of namespace ns.
func proxied(ctx context.Context, ns, acct string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, identity.CallerNamespaceKey, ns, identity.CallerAccountKey, acct, identity.CallerRolesKey, "developer")
}

// TestAccess calls an instance directly over mTLS as every kind of peer,
// and checks who gets through, as whom, and that nobody else reaches a
// handler.
func TestAccess(t *testing.T) {
	s := newStandIn(t)
	r := start(t, s.env(t), "Hello")
	foreign := newStandIn(t).ca
	tests := []struct {
		name       string
		ca         bool // false: a foreign CA
		ns, svc    string
		ctx        context.Context
		want       codes.Code
		wantCaller identity.Caller
	}{
		{"proxy for an account of the namespace", true, "micro", "proxy", proxied(t.Context(), testNamespace, "acc-1"), codes.OK,
			identity.Caller{Namespace: testNamespace, Subject: "acc-1", Roles: []string{"developer"}}},
		{"workload of the namespace", true, testNamespace, "other", t.Context(), codes.OK,
			identity.Caller{Namespace: testNamespace, Subject: "other", Service: "other"}},
		{"proxy for another namespace", true, "micro", "proxy", proxied(t.Context(), "tenant-b", "acc-2"), codes.PermissionDenied, identity.Caller{}},
		{"proxy naming no caller", true, "micro", "proxy", t.Context(), codes.PermissionDenied, identity.Caller{}},
		{"runtime", true, "micro", "runtime", t.Context(), codes.PermissionDenied, identity.Caller{}},
		{"workload of another namespace", true, "tenant-b", "hello", t.Context(), codes.Unavailable, identity.Caller{}},
		{"another namespace's workload forwarding a caller", true, "tenant-b", "hello", proxied(t.Context(), testNamespace, "acc-1"), codes.Unavailable, identity.Caller{}},
		{"core service", true, "micro", "store", t.Context(), codes.Unavailable, identity.Caller{}},
		{"proxy of a foreign CA", false, "micro", "proxy", proxied(t.Context(), testNamespace, "acc-1"), codes.Unavailable, identity.Caller{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := s.ca
			if !tt.ca {
				ca = foreign
			}
			before := r.greeter.Calls()
			_, err := hellopb.NewHelloClient(dialAs(t, ca, r.addr, tt.ns, tt.svc)).Call(tt.ctx, &hellopb.CallRequest{Name: "Ann"})
			if status.Code(err) != tt.want {
				t.Fatalf("Call() as %s/%s = %v, want %v", tt.ns, tt.svc, err, tt.want)
			}
			if tt.want != codes.OK {
				if got := r.greeter.Calls(); got != before {
					t.Errorf("refused call reached the handler: calls %d, want %d", got, before)
				}
				return
			}
			if got, _ := r.greeter.LastCaller(); !cmp.Equal(got, tt.wantCaller) {
				t.Errorf("handler's caller = %+v, want %+v", got, tt.wantCaller)
			}
		})
	}
	t.Run("runtime asks health", func(t *testing.T) {
		if err := checkHealth(t.Context(), dialAs(t, s.ca, r.addr, "micro", "runtime")); err != nil {
			t.Errorf("Health.Check() as micro/runtime = %v, want SERVING", err)
		}
	})
}

// TestStoreAsTheService checks that the store client acts as the service
// account and defaults the table to the service's name.
func TestStoreAsTheService(t *testing.T) {
	s := newStandIn(t)
	r := start(t, s.env(t), "Hello")
	store := r.svc.Store()
	for _, table := range []string{"", "other"} {
		req := &storev1.ReadRequest{Key: "k", Table: table}
		if _, err := store.Read(t.Context(), req); err != nil {
			t.Fatalf("Store().Read(table %q) = %v", table, err)
		}
		if req.GetTable() != table {
			t.Errorf("Store().Read() changed the caller's request: table %q, want %q", req.GetTable(), table)
		}
	}
	_, auth, tables := s.seen()
	if !cmp.Equal(tables, []string{"hello", "other"}) {
		t.Errorf("tables read = %q, want [hello other]", tables)
	}
	for _, a := range auth {
		if a != "Bearer access-1" {
			t.Errorf("a call carried authorization %q, want the service account's token", a)
		}
	}
}

// TestTokenRenewal checks the service account's token is renewed once four
// fifths of its life have passed: with the refresh token, and with the
// secret when the refresh token is refused.
func TestTokenRenewal(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	service.SetClock(t, func() time.Time { return time.Unix(0, now.Load()) })
	s := newStandIn(t)
	env := s.env(t)
	svc := service.New("hello", service.WithEnvironment(func(k string) string { return env[k] }))
	read := func() {
		t.Helper()
		if _, err := svc.Store().Read(t.Context(), &storev1.ReadRequest{Key: "k"}); err != nil {
			t.Fatalf("Store().Read() = %v", err)
		}
	}
	read()
	read()
	now.Add(int64(50 * time.Minute)) // past 4/5 of the hour the tokens live
	read()
	s.mu.Lock()
	s.refuseRefresh = true
	s.mu.Unlock()
	now.Add(int64(50 * time.Minute))
	read()
	logins, auth, _ := s.seen()
	if diff := cmp.Diff([]string{"secret", "refresh", "refused refresh", "secret"}, logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Bearer access-1", "Bearer access-1", "Bearer access-2", "Bearer access-3"}, auth); diff != "" {
		t.Errorf("authorization of the reads (-want +got):\n%s", diff)
	}
}

// TestWrongSecret checks that a refused login fails calls with
// Unauthenticated.
func TestWrongSecret(t *testing.T) {
	s := newStandIn(t)
	env := s.env(t)
	env[service.EnvAccountSecret] = "wrong"
	svc := service.New("hello", service.WithEnvironment(func(k string) string { return env[k] }))
	if _, err := svc.Store().Read(t.Context(), &storev1.ReadRequest{Key: "k"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Store().Read() with a wrong secret = %v, want Unauthenticated", err)
	}
}
