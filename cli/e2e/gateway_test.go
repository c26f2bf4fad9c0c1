package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestGateway uses the HTTP/JSON API as a curl user would: log in, write
// and read the store with a bearer token, and be refused without one.
func TestGateway(t *testing.T) {
	p := newPlatform(t)
	p.start()
	base := "http://" + p.httpAddr

	var login struct {
		Token struct {
			AccessToken string `json:"accessToken"`
		} `json:"token"`
	}
	status := post(t, base+"/v1/auth/token", "", `{"id":"admin","secret":"`+adminPassword+`"}`, &login)
	if status != http.StatusOK || login.Token.AccessToken == "" {
		t.Fatalf("POST /v1/auth/token = %d with token %q, want 200 and a token", status, login.Token.AccessToken)
	}
	bearer := login.Token.AccessToken

	value := base64.StdEncoding.EncodeToString([]byte("over http"))
	if status := post(t, base+"/v1/store/write", bearer, `{"record":{"key":"web","value":"`+value+`"}}`, nil); status != http.StatusOK {
		t.Fatalf("POST /v1/store/write = %d, want 200", status)
	}
	var read struct {
		Records []struct {
			Key   string `json:"key"`
			Value []byte `json:"value"`
		} `json:"records"`
	}
	if status := post(t, base+"/v1/store/read", bearer, `{"key":"web"}`, &read); status != http.StatusOK {
		t.Fatalf("POST /v1/store/read = %d, want 200", status)
	}
	if len(read.Records) != 1 || string(read.Records[0].Value) != "over http" {
		t.Errorf("POST /v1/store/read records = %+v, want the value written", read.Records)
	}

	tests := []struct {
		name, bearer, path, body string
		want                     int
	}{
		{"no token", "", "/v1/store/read", `{"key":"web"}`, http.StatusUnauthorized},
		{"garbage token", "not-a-token", "/v1/store/read", `{"key":"web"}`, http.StatusUnauthorized},
		{"missing key", bearer, "/v1/store/read", `{"key":"nothing-here"}`, http.StatusNotFound},
		{"bad input", bearer, "/v1/store/read", `{"key":"a\u0000b"}`, http.StatusBadRequest},
		{"wrong password", "", "/v1/auth/token", `{"id":"admin","secret":"not-the-password"}`, http.StatusUnauthorized},
		{"sign-up without a token", "", "/v1/auth/signup/send-verification-email", `{"email":"ann@example.com"}`, http.StatusOK},
		{"unknown sign-up token", "", "/v1/auth/signup/payment-status", `{"signupToken":"not-a-token"}`, http.StatusUnauthorized},
		{"password reset without a token", "", "/v1/auth/send-password-reset", `{"email":"ann@example.com"}`, http.StatusOK},
		{"password reset with a wrong code", "", "/v1/auth/reset-password", `{"email":"ann@example.com","code":"12345678","newSecret":"new-password-1"}`, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(t, base+tt.path, tt.bearer, tt.body, nil); got != tt.want {
				t.Errorf("POST %s = %d, want %d", tt.path, got, tt.want)
			}
		})
	}

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, "grpc_server_handled_total") {
		t.Errorf("GET /metrics = %d, want 200 with the gRPC call counters", code)
	}
}

func post(t *testing.T, url, bearer, body string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("POST %s: %v in %s", url, err, data)
		}
	}
	return resp.StatusCode
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
