package sdkcheck_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// httpAnswer is what the gateway answered.
type httpAnswer struct {
	code   int
	header http.Header
	body   string
}

// message is the message of a JSON error answer.
func (a httpAnswer) message() string {
	var e struct{ Message string }
	_ = json.Unmarshal([]byte(a.body), &e)
	return e.Message
}

// callHTTP sends a request to the proxy's HTTP port with the token, if
// any, and extra headers as "Key: value".
func (e *env) callHTTP(t *testing.T, method, path, body, token string, headers ...string) httpAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+e.ProxyHTTP()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer of %s %s: %v", method, path, err)
	}
	return httpAnswer{code: resp.StatusCode, header: resp.Header, body: string(data)}
}

// TestGatewayCallsUsersServices calls users' services over HTTP/JSON, as
// curl would: each tenant reaches its own hello by the same path, every
// form of the endpoint's name works, a streaming method answers a line a
// message, and every mistake gets its own status and sentence.
func TestGatewayCallsUsersServices(t *testing.T) {
	e := newEnv(t)
	a := e.run(t, tenantA, "hello", "Hello from A")
	e.run(t, tenantB, "hello", "Hello from B")
	alice, bob := e.account(t, tenantA, "alice"), e.account(t, tenantB, "bob")

	t.Run("served", func(t *testing.T) {
		tests := []struct {
			name, path, body string
			u                user
			headers          []string
			want             string
		}{
			{"alice", "/v1/call/hello/Hello.Call", `{"name":"Ann"}`, alice, nil, `{"message":"Hello from A Ann"}`},
			{"bob, the same path", "/v1/call/hello/Hello.Call", `{"name":"Ann"}`, bob, nil, `{"message":"Hello from B Ann"}`},
			{"Service/Method", "/v1/call/hello/Hello/Call", `{"name":"Ann"}`, alice, nil, `{"message":"Hello from A Ann"}`},
			{"in full", "/v1/call/hello/hello.Hello.Call", `{"name":"Ann"}`, alice, nil, `{"message":"Hello from A Ann"}`},
			{"empty body", "/v1/call/hello/Hello.Call", "", alice, nil, `{"message":"Hello from A "}`},
			{"a header naming another service", "/v1/call/hello/Hello.Call", `{"name":"Ann"}`, alice,
				[]string{"Grpc-Metadata-Micro-Service: other"}, `{"message":"Hello from A Ann"}`},
			{"streamed", "/v1/call/hello/Hello.Stream", `{"name":"Ann","count":2}`, alice, nil,
				`{"result":{"message":"Hello from A Ann (1)"}}` + "\n" + `{"result":{"message":"Hello from A Ann (2)"}}` + "\n"},
		}
		for _, tt := range tests {
			got := e.callHTTP(t, http.MethodPost, tt.path, tt.body, tt.u.token, tt.headers...)
			if got.code != http.StatusOK || got.body != tt.want {
				t.Errorf("%s: POST %s %s = %d %s, want 200 %s", tt.name, tt.path, tt.body, got.code, got.body, tt.want)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q, want application/json", tt.name, ct)
			}
		}
	})
	if got := a.greeter.Calls(); got != 6 {
		t.Errorf("tenant A's hello counted %d calls, want alice's 6", got)
	}

	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name, method, path, body, token string
			code                            int
			message                         string
		}{
			{"no token", http.MethodPost, "/v1/call/hello/Hello.Call", `{}`, "", http.StatusUnauthorized, ""},
			{"misspelled field", http.MethodPost, "/v1/call/hello/Hello.Call", `{"nam":"Ann"}`, alice.token, http.StatusBadRequest,
				`Cannot call Hello.Call of service 'hello': the request is not a JSON hello.CallRequest: unknown field "nam" (line 1, column 2).`},
			{"two requests in one", http.MethodPost, "/v1/call/hello/Hello.Call", `{} {}`, alice.token, http.StatusBadRequest, ""},
			{"no such method", http.MethodPost, "/v1/call/hello/Hello.Nope", `{}`, alice.token, http.StatusNotFound,
				"Cannot call Hello.Nope of service 'hello': service hello.Hello has no method Nope; it has Hello.Call, Hello.Stream, Hello.Hold."},
			{"not a method's name", http.MethodPost, "/v1/call/hello/Call", `{}`, alice.token, http.StatusBadRequest,
				"Cannot call Call of service 'hello': the endpoint must be Service.Method or Service/Method, such as Hello.Call."},
			{"not running", http.MethodPost, "/v1/call/nope/Hello.Call", `{}`, alice.token, http.StatusNotFound,
				`service "nope" is not running in namespace "tenant-a"`},
			{"wrong method", http.MethodGet, "/v1/call/hello/Hello.Call", "", alice.token, http.StatusMethodNotAllowed, "This path takes POST."},
			{"the service's own refusal", http.MethodPost, "/v1/call/hello/Hello.Stream", `{"count":101}`, alice.token, http.StatusBadRequest,
				"count 101 is over 100"},
		}
		for _, tt := range tests {
			got := e.callHTTP(t, tt.method, tt.path, tt.body, tt.token)
			if got.code != tt.code || (tt.message != "" && got.message() != tt.message) {
				t.Errorf("%s: %s %s %s = %d %s, want %d %q", tt.name, tt.method, tt.path, tt.body, got.code, got.body, tt.code, tt.message)
			}
		}
	})
	t.Run("the service's refusal says so", func(t *testing.T) {
		got := e.callHTTP(t, http.MethodPost, "/v1/call/hello/Hello.Stream", `{"count":101}`, alice.token)
		if by := got.header.Get("Grpc-Metadata-Micro-Answered-By"); by != "hello" {
			t.Errorf("Grpc-Metadata-Micro-Answered-By = %q, want hello", by)
		}
		got = e.callHTTP(t, http.MethodPost, "/v1/call/nope/Hello.Call", `{}`, alice.token)
		if by := got.header.Get("Grpc-Metadata-Micro-Answered-By"); by != "" {
			t.Errorf("the platform's own NotFound says Grpc-Metadata-Micro-Answered-By %q, want none", by)
		}
	})
}
