package proxyserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/corekit"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/proxy"
	"m3o.dev/services/proxy/proxyserver"
)

// platform is a store and an auth service on mTLS loopback, and the
// process and configuration of a proxy in front of them.
type platform struct {
	*coretest.Platform
	proc *corekit.Process
	cfg  proxyserver.Config
}

// newPlatform starts the store, which does not wait for auth, and returns
// the proxy's process and configuration; auth is started by ServeAuth.
func newPlatform(t *testing.T) *platform {
	t.Helper()
	p := coretest.New(t, "store", "auth", "proxy", "http")
	p.ServeStore(t)
	cfg := proxyserver.Config{
		HTTPListener: p.Listener("http"),
		Router:       mtlstest.Bundle(t, p.CA, "micro", "router"),
		RateLimit:    proxy.RateLimit{PerSecond: 100, Burst: 200},
	}
	return &platform{Platform: p, proc: p.Process(t, "proxy"), cfg: cfg}
}

func TestValidate(t *testing.T) {
	p := newPlatform(t)
	tests := []struct {
		name   string
		change func(*proxyserver.Config)
		ok     bool
	}{
		{"complete", func(*proxyserver.Config) {}, true},
		{"no rate limit", func(c *proxyserver.Config) { c.RateLimit = proxy.RateLimit{} }, true},
		{"no http listener", func(c *proxyserver.Config) { c.HTTPListener = nil }, false},
		{"no router certificate", func(c *proxyserver.Config) { c.Router = nil }, false},
		{"router certificate of the proxy", func(c *proxyserver.Config) { c.Router = p.proc.Bundle }, false},
		{"negative rate", func(c *proxyserver.Config) { c.RateLimit.PerSecond = -1 }, false},
		{"rate without burst", func(c *proxyserver.Config) { c.RateLimit.Burst = 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.cfg
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, corekit.ErrConfig)) {
				t.Errorf("Validate(%s) = %v, want ok %t (errors wrapping ErrConfig)", tt.name, err, tt.ok)
			}
		})
	}
}

// client connects to the proxy's public port as the CLI does: TLS that
// trusts the platform CA, no client certificate.
func (p *platform) client(t *testing.T) storev1.StoreServiceClient {
	t.Helper()
	creds := credentials.NewTLS(mtls.ClientRootsConfig(p.CA.Pool(), ""))
	conn, err := grpc.NewClient(p.Addr("proxy"), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("NewClient(%s) = %v", p.Addr("proxy"), err)
	}
	t.Cleanup(func() { conn.Close() })
	return storev1.NewStoreServiceClient(conn)
}

// TestRun runs the proxy process in front of a real store and auth, started
// in the order production allows: store, proxy, then auth. The proxy must
// report not ready until it has auth's keys, and then carry an account's
// authenticated store calls over gRPC and over the JSON gateway.
func TestRun(t *testing.T) {
	p := newPlatform(t)
	coretest.Go(t, "proxyserver.Run", func(ctx context.Context) error {
		return proxyserver.Run(ctx, p.cfg, p.proc)
	})
	healthz := "http://" + p.Addr("http") + "/healthz"
	coretest.Eventually(t, "GET /healthz before auth", func() error { return wantStatus(healthz, "", "", http.StatusServiceUnavailable) })

	p.ServeAuth(t)
	coretest.Eventually(t, "GET /healthz after auth", func() error { return wantStatus(healthz, "", "", http.StatusOK) })
	_, tok := p.Account(t, "tenant-a", "alice")
	client := p.client(t)
	alice := identity.WithBearer(t.Context(), tok)
	// The store, started before auth too, fetches the token keys on its
	// own schedule; until it has them it refuses the token the proxy let
	// through.
	coretest.Eventually(t, "Write(greeting) as alice through the proxy", func() error {
		_, err := client.Write(alice, &storev1.WriteRequest{Record: &storev1.Record{Key: "greeting", Value: []byte("hello")}})
		return err
	})
	resp, err := client.Read(alice, &storev1.ReadRequest{Key: "greeting"})
	if err != nil || len(resp.GetRecords()) != 1 || string(resp.GetRecords()[0].GetValue()) != "hello" {
		t.Fatalf("Read(greeting) as alice through the proxy = %v, %v, want hello", resp, err)
	}
	if _, err := client.Read(t.Context(), &storev1.ReadRequest{Key: "greeting"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Read(greeting) without a token = %v, want Unauthenticated", err)
	}

	read := "http://" + p.Addr("http") + "/v1/store/read"
	if err := wantStatus(read, `{"key":"greeting"}`, "Bearer "+tok, http.StatusOK); err != nil {
		t.Errorf("POST /v1/store/read as alice: %v", err)
	}
	if err := wantStatus(read, `{"key":"greeting"}`, "", http.StatusUnauthorized); err != nil {
		t.Errorf("POST /v1/store/read without a token: %v", err)
	}
}

// wantStatus makes a request of url, a POST of body when there is one,
// and returns nil when the answer has status want; a 200 answer to a POST
// must also be the record written by TestRun.
func wantStatus(url, body, authorization string, want int) error {
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("status %d (%s), want %d", resp.StatusCode, data, want)
	}
	if method == http.MethodPost && want == http.StatusOK {
		var got struct {
			Records []struct{ Value []byte } `json:"records"`
		}
		if err := json.Unmarshal(data, &got); err != nil || len(got.Records) != 1 || string(got.Records[0].Value) != "hello" {
			return fmt.Errorf("body %s (%v), want the record greeting=hello", data, err)
		}
	}
	return nil
}

// TestRunRefusesSwappedCertificates checks that a proxy given its
// relaying certificate as the router's does not start: looking rules up as
// micro/proxy would be refused, and the reverse swap would vouch for every
// anonymous caller.
func TestRunRefusesSwappedCertificates(t *testing.T) {
	p := newPlatform(t)
	cfg := p.cfg
	cfg.Router = p.proc.Bundle
	if err := proxyserver.Run(t.Context(), cfg, p.proc); !errors.Is(err, corekit.ErrConfig) {
		t.Errorf("Run(swapped certificates) = %v, want ErrConfig", err)
	}
}
