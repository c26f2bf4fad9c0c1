package grpcserver

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// metrics counts calls and their latency by method and code. Only
// registered methods reach the interceptors, so the label sets stay small.
type metrics struct {
	handled *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// latencyBuckets reach down to half a millisecond, because a cached store
// read or token check is far below prometheus.DefBuckets' first bucket.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(reg prometheus.Registerer) *metrics {
	handled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "m3o_grpc_server_handled_total",
		Help: "gRPC calls completed by the server, by full method and status code.",
	}, []string{"method", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "m3o_grpc_server_handling_seconds",
		Help:    "Time from receiving a gRPC call to its completion, in seconds, by full method and status code.",
		Buckets: latencyBuckets,
	}, []string{"method", "code"})
	return &metrics{handled: register(reg, handled), latency: register(reg, latency)}
}

// register registers c, or returns the collector already registered under
// the same name, so that several servers in one process (`micro server`)
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

// observe records one completed call.
func (m *metrics) observe(method string, code codes.Code, d time.Duration) {
	c := code.String()
	m.handled.WithLabelValues(method, c).Inc()
	m.latency.WithLabelValues(method, c).Observe(d.Seconds())
}
