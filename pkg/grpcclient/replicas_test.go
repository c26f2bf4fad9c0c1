package grpcclient_test

import (
	"context"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/internal/grpctest"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

// replica serves the test service, answering with its name, until stop.
func replica(t *testing.T, ca *mtls.CA, name string) (addr string, stop func()) {
	t.Helper()
	s := grpcserver.New(grpcserver.Options{TLS: mtlstest.Bundle(t, ca, "micro", "store").ServerConfig()})
	grpctest.Register(s.GRPC(), grpctest.Handlers{Call: func(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		return wrapperspb.String(name), nil
	}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// TestDialReplicas dials a comma-separated list: calls go to every
// replica, and once one stops, every call is answered by the other.
func TestDialReplicas(t *testing.T) {
	ca := mtlstest.NewCA(t)
	addrA, stopA := replica(t, ca, "a")
	addrB, _ := replica(t, ca, "b")
	conn, err := grpcclient.Dial(addrA+", "+addrB, mtlstest.Bundle(t, ca, "micro", "proxy"), mtls.Identity{Namespace: "micro", Service: "store"})
	if err != nil {
		t.Fatalf("Dial(two replicas) = %v", err)
	}
	defer conn.Close()
	// Round-robin uses a replica once its connection is up, which for the
	// second may take a while on a busy machine.
	deadline := time.Now().Add(30 * time.Second)
	seen := map[string]int{}
	for (seen["a"] == 0 || seen["b"] == 0) && time.Now().Before(deadline) {
		maps.Copy(seen, answers(t, conn, 10))
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("calls over two replicas for 30s were answered %v, want both to answer", seen)
	}
	stopA()
	if seen := answers(t, conn, 40); seen["a"] != 0 || seen["b"] != 40 {
		t.Errorf("40 calls with replica a stopped were answered %v, want all by b", seen)
	}
}

// answers makes n calls, waiting for a ready replica, and counts who
// answered; a call may fail only while the balancer learns that a replica
// went away.
func answers(t *testing.T, conn *grpc.ClientConn, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for failures := 0; seen["a"]+seen["b"] < n; {
		got, err := grpctest.Call(t.Context(), conn, "hi", grpc.WaitForReady(true))
		if err != nil {
			if failures++; failures > 1 {
				t.Fatalf("Call() failed twice: %v", err)
			}
			continue
		}
		seen[got]++
	}
	return seen
}

func TestDialRefusesABadReplicaList(t *testing.T) {
	b := mtlstest.Bundle(t, mtlstest.NewCA(t), "micro", "proxy")
	for _, list := range []string{"127.0.0.1:1,", "127.0.0.1:1,nowhere", ",127.0.0.1:2"} {
		conn, err := grpcclient.Dial(list, b, mtls.Identity{Namespace: "micro"})
		if err == nil {
			conn.Close()
			t.Errorf("Dial(%q) = nil error, want one", list)
		} else if !strings.Contains(err.Error(), "is not host:port") {
			t.Errorf("Dial(%q) = %v, want the address named", list, err)
		}
	}
}
