package proxyserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/proxy/proxyserver"
)

// TestGatewayRefusesWhatItCannotServe sends the HTTP gateway what an
// attacker or an unlucky user would: bodies over the caps, a misspelled
// field, a wrong method. Each gets its own status, and nothing is read
// past the cap.
func TestGatewayRefusesWhatItCannotServe(t *testing.T) {
	p := newPlatform(t)
	p.ServeAuth(t)
	coretest.Go(t, "proxyserver.Run", func(ctx context.Context) error { return proxyserver.Run(ctx, p.cfg, p.proc) })
	_, tok := p.Account(t, "tenant-a", "alice")
	base := "http://" + p.Addr("http")
	coretest.Eventually(t, "the gateway", func() error {
		return expect(base+"/v1/store/write", `{"record":{"key":"k","value":"dg=="}}`, tok, http.MethodPost, http.StatusOK)
	})
	tests := []struct {
		name, path, body, method string
		want                     int
	}{
		{"body over 4 MiB", "/v1/store/write", `{"record":{"key":"k","value":"` + strings.Repeat("A", 5<<20) + `"}}`, http.MethodPost, http.StatusRequestEntityTooLarge},
		{"auth body over 64 KiB", "/v1/auth/token", `{"id":"` + strings.Repeat("a", 70<<10) + `"}`, http.MethodPost, http.StatusRequestEntityTooLarge},
		{"misspelled field", "/v1/store/write", `{"record":{"key":"k","value":"dg=="},"ttll":"1s"}`, http.MethodPost, http.StatusBadRequest},
		{"wrong method", "/v1/store/read", "", http.MethodGet, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := expect(base+tt.path, tt.body, tok, tt.method, tt.want); err != nil {
				t.Error(err)
			}
		})
	}
}

// expect makes one request and checks its status.
func expect(url, body, tok, method string, want int) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d, want %d", method, url, resp.StatusCode, want)
	}
	return nil
}
