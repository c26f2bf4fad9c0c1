// Package observe serves what operators and orchestrators poll: Prometheus
// metrics and a health check.
package observe

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics from reg and /healthz from ready: 200 "ok" when
// ready returns nil (or is nil), else 503 "not ready". The reason stays out
// of the body, which anyone may read: it may name addresses inside the
// platform. The caller logs it (see LoggedReady).
func Handler(reg prometheus.Gatherer, ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("not ready\n"))
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}

// LoggedReady wraps a readiness check so that each failure is logged, at
// debug level since probes poll often, with its reason.
func LoggedReady(ready func() error, logger *slog.Logger) func() error {
	if ready == nil {
		return nil
	}
	return func() error {
		err := ready()
		if err != nil {
			logger.Debug("not ready", "error", err)
		}
		return err
	}
}
