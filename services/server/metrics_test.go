package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetrics checks what micro server's /metrics serves: every service's
// gRPC metrics, labelled with the service, and the embedded etcd's own.
// etcd's packages register theirs while the program initialises; they
// must be held then, not registered, which keeps every micro command's
// start cheap, and that happens only when heldmetrics initialises first.
func TestMetrics(t *testing.T) {
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "etcd_") {
			t.Fatalf("the default registry has %s: etcd's packages initialised before heldmetrics", f.GetName())
		}
	}

	r := start(t, config(t.TempDir()))
	r.login(t, r.client(t))
	body := getMetrics(t, r.HTTPAddress())
	for _, want := range []string{
		"\netcd_server_has_leader 1\n",
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Token",grpc_service="m3o.auth.v1.AuthService",grpc_type="unary",service="auth"} `,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Token",grpc_service="m3o.auth.v1.AuthService",grpc_type="bidi_stream",service="proxy"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics has no %q", strings.TrimSpace(want))
		}
	}
}

func getMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
	}
	return string(body)
}
