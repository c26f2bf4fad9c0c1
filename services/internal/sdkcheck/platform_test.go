package sdkcheck_test

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/service/servicetest/hellopb"
	configv1 "m3o.dev/proto/m3o/config/v1"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// platformFixture is tenant A's hello running against the real core
// services, and an account of tenant A.
type platformFixture struct {
	e     *env
	hello *instance
	alice user
}

// TestPlatformMode runs an instance of tenant A's hello against the real
// core services, as the runtime would, and checks what the SDK promises:
// it is registered, it reaches the store, config and another service
// through the proxy as its service account, and only the proxy (for
// callers of its namespace) and its own namespace reach it.
func TestPlatformMode(t *testing.T) {
	e := newEnv(t)
	f := platformFixture{e: e, hello: e.run(t, tenantA, "hello", "Hello"), alice: e.account(t, tenantA, "alice")}
	tests := []struct {
		name string
		run  func(*testing.T, platformFixture)
	}{
		{"registered", testRegistered},
		{"store as the service account", testStore},
		{"config as the service account", testConfig},
		{"another service of the namespace", testClient},
		{"proxy with a token of the namespace", testProxied},
		{"stream through the proxy", testStream},
		{"another namespace", testOtherNamespace},
		{"log says platform", testLogsMode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, f) })
	}
}

// testRegistered checks the instance's node and endpoints in the registry.
func testRegistered(t *testing.T, f platformFixture) {
	nodes, err := f.e.nodes(t.Context(), tenantA, "hello")
	if err != nil || len(nodes) != 1 || nodes[0].GetMetadata()["instance"] != "1" {
		t.Fatalf("registry lists %v, %v, want one node of instance 1", nodes, err)
	}
	resp, err := f.e.registry.GetService(t.Context(), &registryv1.GetServiceRequest{Domain: tenantA, Name: "hello"})
	if err != nil || !slices.ContainsFunc(resp.GetServices()[0].GetEndpoints(), func(ep *registryv1.Endpoint) bool { return ep.GetName() == "Hello.Call" }) {
		t.Errorf("endpoints = %v, %v, want Hello.Call among them", resp.GetServices(), err)
	}
}

// testStore checks the store client acts as the service account, in the
// namespace's database and the table named after the service.
func testStore(t *testing.T, f platformFixture) {
	rec := &storev1.Record{Key: "k", Value: []byte("written by hello")}
	if _, err := f.hello.svc.Store().Write(t.Context(), &storev1.WriteRequest{Record: rec}); err != nil {
		t.Fatalf("Store().Write() = %v", err)
	}
	// The same record, as tenant A's user sees it: its namespace's
	// database, the table named after the service.
	resp, err := storev1.NewStoreServiceClient(f.e.proxy).Read(f.alice.ctx, &storev1.ReadRequest{Database: tenantA, Table: "hello", Key: "k"})
	if err != nil || len(resp.GetRecords()) != 1 || string(resp.GetRecords()[0].GetValue()) != "written by hello" {
		t.Errorf("Read(%s/hello/k) as alice = %v, %v, want the record hello wrote", tenantA, resp, err)
	}
}

// testConfig checks the config client reads the namespace's config.
func testConfig(t *testing.T, f platformFixture) {
	cfg := configv1.NewConfigServiceClient(f.e.proxy)
	if _, err := cfg.Set(f.alice.ctx, &configv1.SetRequest{Path: "greeting", Value: `"hi"`}); err != nil {
		t.Fatalf("Set(greeting) as alice = %v", err)
	}
	got, err := f.hello.svc.Config().Get(t.Context(), &configv1.GetRequest{Path: "greeting"})
	if err != nil || got.GetValue() != `"hi"` {
		t.Errorf("Config().Get(greeting) = %v, %v, want \"hi\"", got, err)
	}
}

// testClient checks a call from another service of the namespace, through
// the proxy as that service's account.
func testClient(t *testing.T, f platformFixture) {
	caller := f.e.run(t, tenantA, "caller", "unused")
	resp, err := hellopb.NewHelloClient(caller.svc.Client("hello")).Call(t.Context(), &hellopb.CallRequest{Name: "caller"})
	if err != nil || resp.GetMessage() != "Hello caller" {
		t.Fatalf("Client(hello).Call() from caller = %v, %v, want Hello caller", resp, err)
	}
	got, _ := f.hello.greeter.LastCaller()
	if got.Namespace != tenantA || got.Subject == "" || !got.HasRole("service") {
		t.Errorf("hello saw caller %+v, want caller's service account of %s", got, tenantA)
	}
}

// testProxied checks a call through the proxy with a token of the
// namespace, and the caller the instance sees.
func testProxied(t *testing.T, f platformFixture) {
	resp, err := f.e.hello().Call(f.alice.to("hello"), &hellopb.CallRequest{Name: "Ann"})
	if err != nil || resp.GetMessage() != "Hello Ann" {
		t.Fatalf("Call(Ann) as alice = %v, %v, want Hello Ann", resp, err)
	}
	if got, _ := f.hello.greeter.LastCaller(); got.Namespace != tenantA || got.Subject != f.alice.id || got.Service != "" {
		t.Errorf("hello saw caller %+v, want alice (%s) of %s", got, f.alice.id, tenantA)
	}
}

// testStream checks a server stream through the proxy.
func testStream(t *testing.T, f platformFixture) {
	stream, err := f.e.hello().Stream(f.alice.to("hello"), &hellopb.StreamRequest{Name: "Ann", Count: 3})
	if err != nil {
		t.Fatalf("Stream() = %v", err)
	}
	var got []string
	for {
		msg, err := stream.Recv()
		if err != nil {
			if err != io.EOF {
				t.Errorf("Recv() = %v, want io.EOF after the greetings", err)
			}
			break
		}
		got = append(got, msg.GetMessage())
	}
	if want := []string{"Hello Ann (1)", "Hello Ann (2)", "Hello Ann (3)"}; !slices.Equal(got, want) {
		t.Errorf("Stream(Ann, 3) = %q, want %q", got, want)
	}
}

// testOtherNamespace checks that nothing of another namespace reaches the
// instance, through the proxy or straight at it.
func testOtherNamespace(t *testing.T, f platformFixture) {
	before := f.hello.greeter.Calls()
	bob := f.e.account(t, tenantB, "bob")
	_, err := f.e.hello().Call(bob.to("hello"), &hellopb.CallRequest{Name: "Bob"})
	if want := fmt.Sprintf("service %q is not running in namespace %q", "hello", tenantB); status.Code(err) != codes.NotFound || status.Convert(err).Message() != want {
		t.Errorf("Call() as bob of %s = %v, want NotFound: %s", tenantB, err, want)
	}
	direct := dialInstance(t, f.e, f.hello.addr, tenantB, "hello")
	if _, err := direct.Call(t.Context(), &hellopb.CallRequest{Name: "Bob"}); status.Code(err) != codes.Unavailable {
		t.Errorf("Call() straight from %s/hello's certificate = %v, want the handshake refused", tenantB, err)
	}
	if got := f.hello.greeter.Calls(); got != before {
		t.Errorf("hello's calls = %d after another namespace's attempts, want %d", got, before)
	}
}

// testLogsMode checks the log says which mode the instance runs in.
func testLogsMode(t *testing.T, f platformFixture) {
	if !strings.Contains(f.hello.logs.String(), "mode=platform") {
		t.Errorf("log has no mode=platform line:\n%s", f.hello.logs)
	}
}

// dialInstance connects straight to an instance at addr with a certificate
// of ns/svc from the platform CA, expecting tenant A's hello.
func dialInstance(t *testing.T, e *env, addr, ns, svc string) hellopb.HelloClient {
	t.Helper()
	conn, err := grpcclient.Dial(addr, mtlstest.Bundle(t, e.CA, ns, svc), mtls.Identity{Namespace: tenantA, Service: "hello"})
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return hellopb.NewHelloClient(conn)
}
