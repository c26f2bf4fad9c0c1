package grpcclient

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// replicasScheme names the resolver of a replica list.
const replicasScheme = "m3o-replicas"

// roundRobin spreads calls over every replica that is up: a replica that
// goes away is skipped until it is back.
const roundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// SplitReplicas parses a comma-separated list of host:port addresses, the
// replicas of one service, as the --<service>-address flags take them.
func SplitReplicas(list string) ([]string, error) {
	var addrs []string
	for _, addr := range strings.Split(list, ",") {
		addr = strings.TrimSpace(addr)
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("address %q is not host:port", addr)
		}
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// ReplicaTarget returns the target and options that make a client
// connection balance over the comma-separated replicas of list; a single
// address is dialed as it is.
func ReplicaTarget(list string) (string, []grpc.DialOption, error) {
	if !strings.Contains(list, ",") {
		return list, nil, nil
	}
	addrs, err := SplitReplicas(list)
	if err != nil {
		return "", nil, err
	}
	r := manual.NewBuilderWithScheme(replicasScheme)
	state := resolver.State{}
	for _, addr := range addrs {
		state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: addr}}})
	}
	r.InitialState(state)
	return replicasScheme + ":///replicas", []grpc.DialOption{grpc.WithResolvers(r), grpc.WithDefaultServiceConfig(roundRobin)}, nil
}
