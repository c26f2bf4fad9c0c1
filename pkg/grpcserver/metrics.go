package grpcserver

import (
	"errors"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets reach down to half a millisecond, because a cached store
// read or token check is far below prometheus.DefBuckets' first bucket.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// newMetrics returns the standard gRPC server metrics (grpc_server_started_total,
// grpc_server_handled_total, grpc_server_handling_seconds and the message
// counters), registered with reg.
func newMetrics(reg prometheus.Registerer) *grpcprom.ServerMetrics {
	m := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))
	return register(reg, m)
}

// register registers c, or returns the collector already registered under
// the same names, so that several servers in one process (`micro server`)
// can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a different kind of metric is a programming error
		// that would otherwise lose every measurement silently.
		panic(err)
	}
	return c
}
