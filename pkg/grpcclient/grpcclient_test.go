package grpcclient_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/internal/grpctest"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

func TestDial(t *testing.T) {
	ca := mtlstest.NewCA(t)
	s := grpcserver.New(grpcserver.Options{TLS: mtlstest.Bundle(t, ca, "micro", "store").ServerConfig()})
	grpctest.Register(s.GRPC(), grpctest.Handlers{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })

	proxy := mtlstest.Bundle(t, ca, "micro", "proxy")
	tests := []struct {
		name   string
		expect mtls.Identity
		code   codes.Code
	}{
		{"expected service", mtls.Identity{Namespace: "micro", Service: "store"}, codes.OK},
		{"any service of the namespace", mtls.Identity{Namespace: "micro"}, codes.OK},
		{"another service", mtls.Identity{Namespace: "micro", Service: "auth"}, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := grpcclient.Dial(lis.Addr().String(), proxy, tt.expect)
			if err != nil {
				t.Fatalf("Dial() = %v", err)
			}
			defer conn.Close()
			if _, err := grpctest.Call(t.Context(), conn, "hi"); status.Code(err) != tt.code {
				t.Errorf("Call() via Dial(expect %v) = %v, want code %v", tt.expect, err, tt.code)
			}
		})
	}
}

func TestDialRefusesMissingInputs(t *testing.T) {
	b := mtlstest.Bundle(t, mtlstest.NewCA(t), "micro", "proxy")
	tests := []struct {
		name   string
		b      *mtls.Bundle
		expect mtls.Identity
	}{
		{"no bundle", nil, mtls.Identity{Namespace: "micro"}},
		{"no expected namespace", b, mtls.Identity{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if conn, err := grpcclient.Dial("127.0.0.1:1", tt.b, tt.expect); err == nil {
				conn.Close()
				t.Errorf("Dial(%v, %v) = nil error, want one", tt.b, tt.expect)
			}
		})
	}
}
