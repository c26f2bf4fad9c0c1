package proxyserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/proxy"
	"m3o.dev/services/proxy/proxyserver"
)

// valid is a complete configuration; each case breaks one thing.
func valid() proxyserver.Config {
	return proxyserver.Config{
		Address: ":8081", HTTPAddress: ":8080",
		CAFile: "ca.pem", CertFile: "proxy.pem", KeyFile: "proxy-key.pem",
		RouterCertFile: "router.pem", RouterKeyFile: "router-key.pem",
		StoreAddress: "store:8443", RegistryAddress: "registry:8443", AuthAddress: "auth:8443", ConfigAddress: "config:8443",
		RateLimit: proxy.RateLimit{PerSecond: 100, Burst: 200}, LogFormat: "json", LogLevel: "info",
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*proxyserver.Config)
		ok     bool
	}{
		{"complete", func(*proxyserver.Config) {}, true},
		{"no rate limit", func(c *proxyserver.Config) { c.RateLimit = proxy.RateLimit{} }, true},
		{"default log settings", func(c *proxyserver.Config) { c.LogFormat, c.LogLevel = "", "" }, true},
		{"bad address", func(c *proxyserver.Config) { c.Address = "8081" }, false},
		{"no http address", func(c *proxyserver.Config) { c.HTTPAddress = "" }, false},
		{"no store", func(c *proxyserver.Config) { c.StoreAddress = "" }, false},
		{"no registry", func(c *proxyserver.Config) { c.RegistryAddress = "" }, false},
		{"no auth", func(c *proxyserver.Config) { c.AuthAddress = "" }, false},
		{"no config", func(c *proxyserver.Config) { c.ConfigAddress = "" }, false},
		{"no certificate", func(c *proxyserver.Config) { c.CertFile = "" }, false},
		{"no CA", func(c *proxyserver.Config) { c.CAFile = "" }, false},
		{"no router key", func(c *proxyserver.Config) { c.RouterKeyFile = "" }, false},
		{"negative rate", func(c *proxyserver.Config) { c.RateLimit.PerSecond = -1 }, false},
		{"rate without burst", func(c *proxyserver.Config) { c.RateLimit.Burst = 0 }, false},
		{"unknown log format", func(c *proxyserver.Config) { c.LogFormat = "xml" }, false},
		{"unknown log level", func(c *proxyserver.Config) { c.LogLevel = "loud" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, proxyserver.ErrConfig)) {
				t.Errorf("Validate(%s) = %v, want ok %t (errors wrapping ErrConfig)", tt.name, err, tt.ok)
			}
		})
	}
}

// platform is a store and an auth service on mTLS loopback, and the
// configuration of a proxy in front of them.
type platform struct {
	ca       *mtls.CA
	cfg      proxyserver.Config
	authAddr string
}

// newPlatform starts the store, which does not wait for auth, and returns
// the configuration of a proxy; auth is started by startAuth.
func newPlatform(t *testing.T) *platform {
	t.Helper()
	ca := mtlstest.NewCA(t)
	storeAddr, authAddr := coretest.FreeAddress(t), coretest.FreeAddress(t)
	coretest.ServeStore(t, ca, storeAddr, authAddr)
	caFile, certFile, keyFile := coretest.Files(t, ca, "proxy")
	_, routerCert, routerKey := coretest.Files(t, ca, "router")
	cfg := valid()
	cfg.Address, cfg.HTTPAddress = coretest.FreeAddress(t), coretest.FreeAddress(t)
	cfg.CAFile, cfg.CertFile, cfg.KeyFile = caFile, certFile, keyFile
	cfg.RouterCertFile, cfg.RouterKeyFile = routerCert, routerKey
	// The registry and config services are not needed for a store call;
	// their addresses refuse connections.
	cfg.StoreAddress, cfg.AuthAddress = storeAddr, authAddr
	cfg.RegistryAddress, cfg.ConfigAddress = coretest.FreeAddress(t), coretest.FreeAddress(t)
	return &platform{ca: ca, cfg: cfg, authAddr: authAddr}
}

func (p *platform) startAuth(t *testing.T) {
	coretest.ServeAuth(t, p.ca, p.authAddr, p.cfg.StoreAddress)
}

// client connects to the proxy's public port as the CLI does: TLS that
// trusts the platform CA, no client certificate.
func (p *platform) client(t *testing.T) storev1.StoreServiceClient {
	t.Helper()
	creds := credentials.NewTLS(mtls.ClientRootsConfig(p.ca.Pool(), ""))
	conn, err := grpc.NewClient(p.cfg.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("NewClient(%s) = %v", p.cfg.Address, err)
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
		return proxyserver.Run(ctx, p.cfg, slog.New(slog.DiscardHandler))
	})
	healthz := "http://" + p.cfg.HTTPAddress + "/healthz"
	coretest.Eventually(t, "GET /healthz before auth", func() error { return wantStatus(healthz, "", "", http.StatusServiceUnavailable) })

	p.startAuth(t)
	coretest.Eventually(t, "GET /healthz after auth", func() error { return wantStatus(healthz, "", "", http.StatusOK) })
	_, tok := coretest.Account(t, p.ca, p.authAddr, "tenant-a", "alice")
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

	read := "http://" + p.cfg.HTTPAddress + "/v1/store/read"
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

// TestRunRefusesSwappedCertificates checks that a proxy given its two
// certificates the wrong way round does not start: relaying with the
// router's identity would vouch for every anonymous caller.
func TestRunRefusesSwappedCertificates(t *testing.T) {
	p := newPlatform(t)
	cfg := p.cfg
	cfg.CertFile, cfg.RouterCertFile = cfg.RouterCertFile, cfg.CertFile
	cfg.KeyFile, cfg.RouterKeyFile = cfg.RouterKeyFile, cfg.KeyFile
	if err := proxyserver.Run(t.Context(), cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, proxyserver.ErrConfig) {
		t.Errorf("Run(swapped certificates) = %v, want ErrConfig", err)
	}
}
