// Package grpcclient dials platform services over mTLS, checking that the
// server is the identity the caller meant to reach.
package grpcclient

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"

	"m3o.dev/pkg/mtls"
)

// FlowWindow is the HTTP/2 flow-control window, in bytes, of each stream
// and connection a client receives on: it holds the largest response of any
// platform service, so no call waits for a window update.
const FlowWindow = 4 << 20

// reconnect spaces out attempts to reach a peer that is away. grpc-go's
// default backs off to two minutes, which would keep a service from a
// restarted peer long after it is back; two seconds at most keeps
// recovery within the platform's goal of five.
var reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
	MinConnectTimeout: 5 * time.Second,
}

// Dial returns a client connection to target that presents b's certificate
// and accepts only a server whose certificate chains to b's CA and carries
// identity expect (any service of expect.Namespace when expect.Service is
// empty). Like grpc.NewClient, it does not connect until the first call.
// A comma-separated target is a service's replicas: calls go round-robin
// over those that are up. opts are applied after the transport
// credentials.
func Dial(target string, b *mtls.Bundle, expect mtls.Identity, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if b == nil {
		return nil, errors.New("dial: no mTLS bundle")
	}
	if expect.Namespace == "" {
		return nil, fmt.Errorf("dial %s: no expected server namespace", target)
	}
	target, balance, err := ReplicaTarget(target)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	creds := credentials.NewTLS(b.ClientConfig(expect))
	all := append(append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		// Fixed windows turn off grpc-go's bandwidth-delay probing, which
		// otherwise rides a PING round on calls: on loopback between
		// platform services that costs tens of microseconds a call.
		grpc.WithInitialWindowSize(FlowWindow),
		grpc.WithInitialConnWindowSize(FlowWindow),
		grpc.WithConnectParams(reconnect),
	}, balance...), opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return conn, nil
}
