package proxyserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/proxy"
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
		message                  string // the answer's message, when checked
	}{
		{"body over 4 MiB", "/v1/store/write", `{"record":{"key":"k","value":"` + strings.Repeat("A", 5<<20) + `"}}`, http.MethodPost, http.StatusRequestEntityTooLarge, ""},
		{"auth body over 64 KiB", "/v1/auth/token", `{"id":"` + strings.Repeat("a", 70<<10) + `"}`, http.MethodPost, http.StatusRequestEntityTooLarge, ""},
		{"misspelled field", "/v1/store/write", `{"record":{"key":"k","value":"dg=="},"ttll":"1s"}`, http.MethodPost, http.StatusBadRequest,
			`The request body is not a JSON m3o.store.v1.WriteRequest: unknown field "ttll" (line 1, column 38).`},
		{"a number for a string", "/v1/store/read", `{"key":5}`, http.MethodPost, http.StatusBadRequest,
			`The request body is not a JSON m3o.store.v1.ReadRequest: invalid value for string field key: 5 (line 1, column 8).`},
		{"cut short", "/v1/store/read", `{"key":`, http.MethodPost, http.StatusBadRequest,
			"The request body ends inside its JSON value."},
		{"not JSON", "/v1/store/read", `key=k`, http.MethodPost, http.StatusBadRequest,
			"The request body is not valid JSON: invalid character 'k' looking for beginning of value at byte 1."},
		// grpc-gateway decodes the first value and would ignore the rest.
		{"two requests in one", "/v1/store/read", `{"key":"k"} {"key":"other"}`, http.MethodPost, http.StatusBadRequest,
			"The request body goes on after its JSON value, at byte 11."},
		{"wrong method", "/v1/store/read", "", http.MethodGet, http.StatusMethodNotAllowed, "This path takes POST."},
		{"no such method", "/v1/store/nope", "{}", http.MethodPost, http.StatusNotFound,
			"There is no API at POST /v1/store/nope. The gateway's methods are POST /v1/SERVICE/METHOD, such as POST /v1/store/read, " +
				"and your services' POST /v1/call/SERVICE/ENDPOINT, such as POST /v1/call/hello/Hello.Call."},
		{"outside the API", "/nope", "", http.MethodGet, http.StatusNotFound,
			"There is no API at GET /nope. The gateway's methods are POST /v1/SERVICE/METHOD, such as POST /v1/store/read, " +
				"and your services' POST /v1/call/SERVICE/ENDPOINT, such as POST /v1/call/hello/Hello.Call."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, message, err := answer(base+tt.path, tt.body, tok, tt.method)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.want || (tt.message != "" && message != tt.message) {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, code, message, tt.want, tt.message)
			}
			if fields, err := errorFields(base+tt.path, tt.body, tok, tt.method); err != nil || !slices.Equal(fields, []string{"code", "details", "message"}) {
				t.Errorf("%s %s answers with the fields %v, %v, want code, details and message, as grpc-gateway's errors", tt.method, tt.path, fields, err)
			}
		})
	}
	// A body that is one request is served, with blanks around it.
	if err := expect(base+"/v1/store/read", "\n {\"key\":\"k\"} \n", tok, http.MethodPost, http.StatusOK); err != nil {
		t.Error(err)
	}
}

// TestGatewayClosesSlowClients opens a connection that sends half a
// request line and then nothing, as a slow-headers attack holds sockets:
// the gateway closes it once its read-header timeout passes, while a
// connection left alone would stay open.
func TestGatewayClosesSlowClients(t *testing.T) {
	p := newPlatform(t)
	p.ServeAuth(t)
	coretest.Go(t, "proxyserver.Run", func(ctx context.Context) error { return proxyserver.Run(ctx, p.cfg, p.proc) })
	coretest.Eventually(t, "the gateway", func() error {
		return expect("http://"+p.Addr("http")+"/healthz", "", "", http.MethodGet, http.StatusOK)
	})
	conn, err := net.Dial("tcp", p.Addr("http"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /v1/store/write HTTP/1.1\r\nHost: m3o\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	conn.SetReadDeadline(start.Add(time.Minute)) // past the timeout, well short of the test's
	_, err = io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read from a connection the gateway should close = %v after %s, want it closed", err, time.Since(start))
	}
	t.Logf("slow client closed after %s", time.Since(start).Round(time.Millisecond))
}

// expect makes one request and checks its status.
func expect(url, body, tok, method string, want int) error {
	code, message, err := answer(url, body, tok, method)
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("%s %s = %d (%q), want %d", method, url, code, message, want)
	}
	return nil
}

// answer sends a request to the gateway and returns the HTTP status and,
// for an error in the gateway's JSON form, its message.
// errorFields returns the sorted names of the fields of the JSON object
// the gateway answers with.
func errorFields(url, body, tok, method string) ([]string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var fields map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&fields); err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(fields)), nil
}

func answer(url, body, tok, method string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var answer struct{ Message string }
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	_ = json.Unmarshal(data, &answer)
	return resp.StatusCode, answer.Message, nil
}

// TestAnonymousCallersHaveBudgetsOfTheirOwn spends one anonymous HTTP
// caller's whole rate budget: another caller, at another address, still
// gets through. The callers' addresses come from X-Forwarded-For, believed
// only because the load balancer they pass through, here loopback, is one
// of the trusted proxies; a caller that is not believed is itself.
func TestAnonymousCallersHaveBudgetsOfTheirOwn(t *testing.T) {
	p := newPlatform(t)
	p.ServeAuth(t)
	p.cfg.RateLimit = proxy.RateLimit{PerSecond: 0.01, Burst: 2}
	p.cfg.TrustedProxies, _ = proxy.ParseTrustedProxies([]string{"127.0.0.1"})
	coretest.Go(t, "proxyserver.Run", func(ctx context.Context) error { return proxyserver.Run(ctx, p.cfg, p.proc) })
	keys := "http://" + p.Addr("http") + "/v1/auth/public-keys"
	coretest.Eventually(t, "the gateway", func() error { return post(keys, "198.51.100.1", http.StatusOK) })
	if err := post(keys, "198.51.100.1", http.StatusOK); err != nil {
		t.Fatal(err)
	}
	if err := post(keys, "198.51.100.1", http.StatusTooManyRequests); err != nil {
		t.Errorf("third call of one anonymous caller: %v", err)
	}
	if err := post(keys, "203.0.113.5", http.StatusOK); err != nil {
		t.Errorf("another anonymous caller: %v", err)
	}
}

// post makes an anonymous POST as the client at addr, behind a load
// balancer that says so in X-Forwarded-For.
func post(url, addr string, want int) error { return postBody(url, addr, "{}", want) }

// postBody is post with a body.
func postBody(url, addr, body string, want int) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s as %s = %d, want %d", url, addr, resp.StatusCode, want)
	}
	return nil
}

// TestLockoutFollowsTheCallersAddress guesses a tenant's password through
// the gateway from one address, behind a trusted load balancer: that
// address is locked out, even with the right password, while the owner
// logs in from another. The address the proxy decided on reaches auth in
// the call's metadata, which auth believes from the proxy alone.
func TestLockoutFollowsTheCallersAddress(t *testing.T) {
	p := newPlatform(t)
	p.ServeAuth(t)
	p.cfg.TrustedProxies, _ = proxy.ParseTrustedProxies([]string{"127.0.0.1"})
	coretest.Go(t, "proxyserver.Run", func(ctx context.Context) error { return proxyserver.Run(ctx, p.cfg, p.proc) })
	p.Account(t, "tenant-a", "alice")
	url := "http://" + p.Addr("http") + "/v1/auth/token"
	login := func(addr, secret string, want int) error {
		return postBody(url, addr, `{"namespace":"tenant-a","id":"alice","secret":"`+secret+`"}`, want)
	}
	const attacker, owner, secret = "198.51.100.7", "203.0.113.9", "account-secret-123"
	coretest.Eventually(t, "the gateway", func() error { return login(owner, secret, http.StatusOK) })
	for range 5 {
		if err := login(attacker, "wrong-guess-456", http.StatusUnauthorized); err != nil {
			t.Fatal(err)
		}
	}
	if err := login(attacker, secret, http.StatusTooManyRequests); err != nil {
		t.Errorf("the guessing address, with the right password: %v", err)
	}
	if err := login(owner, secret, http.StatusOK); err != nil {
		t.Errorf("the owner's address: %v", err)
	}
}
