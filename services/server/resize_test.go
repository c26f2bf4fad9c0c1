package server_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service/servicetest/hellopb"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/runtimetest"
)

// TestAdminResizeAndQuota drives `micro server` as an admin would: a quota
// of one service refuses a tenant's second, naming the quota; a resize
// from 1 instance to 3 runs three processes in place, and calls through
// the proxy reach every one of them.
func TestAdminResizeAndQuota(t *testing.T) {
	s := newMicroServer(t)
	s.start()
	conn := s.conn(t)
	admin := login(t, conn, platform.Namespace, "admin", adminPassword)
	alice := tenant(t, conn, admin, "sizes-space", "alice")
	rt := runtimev1.NewRuntimeServiceClient(conn)
	if _, err := rt.SetQuota(admin, &runtimev1.SetQuotaRequest{Namespace: "sizes-space", Quota: &runtimev1.Quota{Services: 1}}); err != nil {
		t.Fatalf("SetQuota(1 service) = %v", err)
	}
	create(t, rt, alice, "hello", runtimetest.Hello, map[string]string{"GREETING": "hi", "SHOW_INSTANCE": "1"})
	_, err := rt.Create(alice, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "extra", Source: "https://example.com/a/b"}})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "over its quota of 1 service") {
		t.Errorf("Create of a second service = %v, want ResourceExhausted naming the quota of 1 service", err)
	}
	waitRunning(t, rt, alice, "hello", 1)

	resp, err := rt.Resize(admin, &runtimev1.ResizeRequest{Namespace: "sizes-space", Name: "hello", Instances: 3})
	if err != nil {
		t.Fatalf("Resize(3 instances) = %v", err)
	}
	if resp.GetRestarts() || !slices.Contains(resp.GetNotes(), runtime.CPUNotEnforced) {
		t.Errorf("Resize() = %v, want no restart and a note that CPU is not enforced", resp)
	}
	svc := waitStatus(t, rt, alice, "hello", func(svc *runtimev1.Service) bool {
		return svc.GetStatus() == runtimev1.Status_STATUS_RUNNING && svc.GetRunningGeneration() == 2 && len(svc.GetInstances()) == 3
	})
	if first := svc.GetInstances()[0]; first.GetNumber() != 1 || first.GetRestarts() != 0 {
		t.Errorf("instance 1 after the resize = %v, want it running since before, never restarted", first)
	}
	if got := spread(t, conn, alice, 3); len(got) != 3 {
		t.Errorf("calls reached instances %v, want all three", got)
	}
	s.stop()
}

// spread calls hello through the proxy until the answers came from n
// instances, or for as long as a deployment may settle, and returns the
// instances that answered.
func spread(t *testing.T, conn *grpc.ClientConn, ctx context.Context, n int) []string {
	t.Helper()
	ctx = metadata.AppendToOutgoingContext(ctx, platform.ServiceHeader, "hello")
	instance := regexp.MustCompile(`\(instance (\d+)\)`)
	seen := map[string]bool{}
	deadline := time.Now().Add(settle)
	for len(seen) < n && time.Now().Before(deadline) {
		resp, err := hellopb.NewHelloClient(conn).Call(ctx, &hellopb.CallRequest{Name: "Ann"}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatalf("Hello.Call through the proxy = %v", err)
		}
		if m := instance.FindStringSubmatch(resp.GetMessage()); m != nil {
			seen[m[1]] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
