package observe_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"m3o.dev/pkg/observe"
)

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	calls := prometheus.NewCounter(prometheus.CounterOpts{Name: "m3o_test_calls_total", Help: "Calls."})
	reg.MustRegister(calls)
	calls.Add(3)
	// The handler runs on the server's goroutines, so the readiness the
	// test sets is shared under a lock.
	var mu sync.Mutex
	var readyErr error
	ready := func() error {
		mu.Lock()
		defer mu.Unlock()
		return readyErr
	}
	srv := httptest.NewServer(observe.Handler(reg, ready))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		path     string
		notReady error
		code     int
		body     string
	}{
		{"metrics", "/metrics", nil, http.StatusOK, "m3o_test_calls_total 3"},
		{"healthy", "/healthz", nil, http.StatusOK, "ok"},
		{"unhealthy", "/healthz", errors.New("store at 10.0.0.7:8083 unreachable"), http.StatusServiceUnavailable, "not ready"},
		{"unknown path", "/debug", nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			readyErr = tt.notReady
			mu.Unlock()
			resp, err := srv.Client().Get(srv.URL + tt.path)
			if err != nil {
				t.Fatalf("GET %s = %v", tt.path, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) || strings.Contains(string(body), "10.0.0.7") {
				t.Errorf("GET %s = %d %q, want %d containing %q and no address", tt.path, resp.StatusCode, body, tt.code, tt.body)
			}
		})
	}
}

func TestHandlerWithoutReadiness(t *testing.T) {
	rec := httptest.NewRecorder()
	observe.Handler(prometheus.NewRegistry(), nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /healthz with nil ready = %d, want 200", rec.Code)
	}
}
