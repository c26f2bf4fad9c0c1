package service_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/service"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

// checkHealth returns nil when the server on conn reports SERVING.
func checkHealth(ctx context.Context, conn *grpc.ClientConn) error {
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("status %v", resp.GetStatus())
	}
	return nil
}

// TestStopDeregistersThenDrains stops an instance with a call in flight:
// it must deregister while the call is still held, then let the call
// finish, then return nil.
func TestStopDeregistersThenDrains(t *testing.T) {
	s := newStandIn(t)
	r := start(t, s.env(t), "Hello")
	receive(t, s.registered, "registration")
	client := hellopb.NewHelloClient(dialAs(t, s.ca, r.addr, "micro", "proxy"))
	held := make(chan error, 1)
	go func() {
		_, err := client.Hold(proxied(context.Background(), testNamespace, "acc-1"), &hellopb.HoldRequest{Name: "in-flight"})
		held <- err
	}()
	receive(t, r.greeter.Held(), "held call")

	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	dereg := receive(t, s.deregistered, "deregistration")
	if got := dereg.GetService().GetNodes(); len(got) != 1 || got[0].GetAddress() != r.addr {
		t.Errorf("deregistered nodes %v, want this instance's", got)
	}
	select {
	case err := <-held:
		t.Fatalf("held call ended with %v before it was released", err)
	case err := <-stopped:
		t.Fatalf("RunContext() returned %v with a call in flight", err)
	default: // the call is held: deregistration came first
	}
	r.greeter.Release()
	if err := receive(t, held, "end of the held call"); err != nil {
		t.Errorf("held call = %v, want it to finish", err)
	}
	if err := receive(t, stopped, "stop"); err != nil {
		t.Errorf("RunContext() = %v, want nil", err)
	}
}

// TestCertificateRenewal rewrites the certificate files of a running
// instance, as the runtime renews them, and checks that the next
// connection gets the new certificate, with no restart.
func TestCertificateRenewal(t *testing.T) {
	s := newStandIn(t)
	env := s.env(t)
	r := start(t, env, "Hello")
	first := servedSerial(t, s, r.addr)
	renewed := mtlstest.Bundle(t, s.ca, testNamespace, testService)
	writeCert(t, env[service.EnvTLSDir], renewed)
	if got, want := servedSerial(t, s, r.addr), renewed.Cert.Leaf.SerialNumber.String(); got != want || got == first {
		t.Errorf("certificate after renewal has serial %s, want %s (was %s)", got, want, first)
	}
}

// servedSerial makes a call on a new connection and returns the serial
// number of the certificate the instance served.
func servedSerial(t *testing.T, s *standIn, addr string) string {
	t.Helper()
	conn := dialAs(t, s.ca, addr, "micro", "runtime")
	var p peer.Peer
	if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p)); err != nil {
		t.Fatalf("Health.Check() = %v", err)
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		t.Fatalf("peer %v has no certificate", p)
	}
	return info.State.PeerCertificates[0].SerialNumber.String()
}
