package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/service"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/internal/storeclient"
	"m3o.dev/services/runtime"
)

// fields returns the fields an InvalidArgument names.
func fields(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "valid-space", "dev", "developer")
	src, err := upload(ctx, c, "", "hello", packDir(t, helloFiles))
	if err != nil {
		t.Fatal(err)
	}
	svc := func(name, source string) *runtimev1.Service { return &runtimev1.Service{Name: name, Source: source} }
	tests := []struct {
		name   string
		req    *runtimev1.CreateRequest
		fields []string
	}{
		{"upper-case name", &runtimev1.CreateRequest{Service: svc("Hello", src)}, []string{"service.name"}},
		{"name ending in a dash", &runtimev1.CreateRequest{Service: svc("hello-", src)}, []string{"service.name"}},
		{"name of 64 characters", &runtimev1.CreateRequest{Service: svc(strings.Repeat("a", 64), src)}, []string{"service.name"}},
		{"no source", &runtimev1.CreateRequest{Service: svc("hello", "")}, []string{"service.source"}},
		{"unknown source id", &runtimev1.CreateRequest{Service: svc("hello", "src-aaaaaaaaaaaaaaaaaaaaaaaaaa")}, []string{"service.source"}},
		{"scp-like git", &runtimev1.CreateRequest{Service: svc("hello", "git@github.com:x/y")}, []string{"service.source"}},
		{"option-like git", &runtimev1.CreateRequest{Service: svc("hello", "-uhttps://x/y")}, []string{"service.source"}},
		{"file git without the flag", &runtimev1.CreateRequest{Service: svc("hello", "file:///srv/repo.git")}, []string{"service.source"}},
		{"loopback git without the flag", &runtimev1.CreateRequest{Service: svc("hello", "https://127.0.0.1/x/y")}, []string{"service.source"}},
		{"bad version", &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: src, Version: "v 1"}}, []string{"service.version"}},
		{"reserved env", &runtimev1.CreateRequest{Service: svc("hello", src), Options: &runtimev1.Options{Env: map[string]string{"MICRO_PROXY": "evil:1"}}}, []string{"options.env"}},
		{"bad env name", &runtimev1.CreateRequest{Service: svc("hello", src), Options: &runtimev1.Options{Env: map[string]string{"1X": "v"}}}, []string{"options.env"}},
		{"too many instances", &runtimev1.CreateRequest{Service: svc("hello", src), Options: &runtimev1.Options{Instances: 11}}, []string{"options.instances"}},
		{"too much memory", &runtimev1.CreateRequest{Service: svc("hello", src), Options: &runtimev1.Options{Resources: &runtimev1.Resources{MemoryMib: 16385}}}, []string{"options.resources.memory_mib"}},
		{"every field at once", &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "X", Version: "v 1"}, Options: &runtimev1.Options{Instances: 99}},
			[]string{"options.instances", "service.name", "service.source", "service.version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Create(ctx, tt.req)
			statustest.WantCode(t, "Create()", err, codes.InvalidArgument)
			if diff := cmp.Diff(tt.fields, fields(err)); diff != "" {
				t.Errorf("Create() = %v, fields (-want +got):\n%s", err, diff)
			}
		})
	}
	if _, ok := e.backend.last(runtime.Ref{Namespace: "valid-space", Name: "hello"}); ok {
		t.Error("a refused Create reached the backend")
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, options{quota: 3})
	c := e.client(t)
	ctx := e.tenant(t, "tight-space", "dev", "developer")
	src, err := upload(ctx, c, "", "svc", packDir(t, helloFiles))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: fmt.Sprintf("svc-%d", i), Source: src}}); err != nil {
			t.Fatalf("Create(svc-%d) = %v", i, err)
		}
	}
	_, err = c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "svc-3", Source: src}})
	statustest.WantCode(t, "Create past the quota", err, codes.ResourceExhausted)
	if _, err := c.Delete(ctx, &runtimev1.DeleteRequest{Name: "svc-0"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "svc-3", Source: src}})
	statustest.WantCode(t, "Create after a Delete", err, codes.OK)
	_, err = c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "svc-3", Source: src}})
	statustest.Want(t, "Create of an existing name", err, codes.AlreadyExists, `service "svc-3" in namespace "tight-space" already exists`)
}

// TestLifecycle creates, updates and deletes a service and checks what
// the backend was given, the account the service runs as, and what Read
// says.
func TestLifecycle(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "life-space", "dev", "developer")
	ref := runtime.Ref{Namespace: "life-space", Name: "hello"}
	src := mustUpload(t, ctx, c, "hello")
	created, err := c.Create(ctx, &runtimev1.CreateRequest{
		Service: &runtimev1.Service{Name: "hello", Source: src, Version: "v1"},
		Options: &runtimev1.Options{Env: map[string]string{"GREETING": "hi"}, Instances: 2},
	})
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if s := created.GetService(); s.GetGeneration() != 1 || s.GetNamespace() != "life-space" || s.GetOptions().GetInstances() != 2 {
		t.Errorf("Create() = %v, want generation 1 in life-space with 2 instances", s)
	}
	d, _ := e.backend.last(ref)
	checkDeployment(t, e, d, 1, "GREETING=hi")
	src2 := mustUpload(t, ctx, c, "hello")
	if _, err := c.Update(ctx, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: "hello", Source: src2}}); err != nil {
		t.Fatalf("Update() = %v", err)
	}
	d2, _ := e.backend.last(ref)
	checkDeployment(t, e, d2, 2, "GREETING=hi")
	if d2.Source.ID() != src2 || envOf(d2, service.EnvAccountSecret) != envOf(d, service.EnvAccountSecret) {
		t.Errorf("update: source %s, want %s, and the same account secret as before", d2.Source.ID(), src2)
	}
	checkRead(t, c, ctx, 2)
	if _, err := c.Delete(ctx, &runtimev1.DeleteRequest{Name: "hello"}); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	checkGone(t, e, c, ctx, ref, envOf(d, service.EnvAccountID))
}

func mustUpload(t *testing.T, ctx context.Context, c runtimev1.RuntimeServiceClient, name string) string {
	t.Helper()
	src, err := upload(ctx, c, "", name, packDir(t, helloFiles))
	if err != nil {
		t.Fatalf("Upload() = %v", err)
	}
	return src
}

// envOf returns a deployment's variable.
func envOf(d runtime.Deployment, name string) string {
	for _, kv := range d.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// checkDeployment checks a deployment's generation and environment, and
// that its account is a service account that can log in.
func checkDeployment(t *testing.T, e *env, d runtime.Deployment, gen uint64, userEnv string) {
	t.Helper()
	if d.Generation != gen || d.Instances != 2 || d.Version != "v1" || !slices.Contains(d.Env, userEnv) {
		t.Errorf("deployment = generation %d, %d instances, version %q, env %v; want %d, 2, v1 and %s", d.Generation, d.Instances, d.Version, d.Env, gen, userEnv)
	}
	if envOf(d, service.EnvProxy) != "127.0.0.1:8081" {
		t.Errorf("MICRO_PROXY = %q, want the proxy's address", envOf(d, service.EnvProxy))
	}
	a, _ := e.p.Auth(t)
	resp, err := a.Token(t.Context(), &authv1.TokenRequest{Namespace: d.Ref.Namespace, Id: envOf(d, service.EnvAccountID), Secret: envOf(d, service.EnvAccountSecret)})
	if err != nil || resp.GetAccount().GetType() != authv1.AccountType_ACCOUNT_TYPE_SERVICE || !slices.Equal(resp.GetAccount().GetRoles(), []string{"service"}) {
		t.Errorf("the deployment's account logs in as %v, %v; want a service account with role service", resp.GetAccount(), err)
	}
}

func checkRead(t *testing.T, c runtimev1.RuntimeServiceClient, ctx context.Context, gen uint64) {
	t.Helper()
	resp, err := c.Read(ctx, &runtimev1.ReadRequest{})
	if err != nil || len(resp.GetServices()) != 1 {
		t.Fatalf("Read() = %v, %v, want one service", resp, err)
	}
	s := resp.GetServices()[0]
	if s.GetStatus() != runtimev1.Status_STATUS_RUNNING || s.GetGeneration() != gen || s.GetRunningGeneration() != gen || len(s.GetInstances()) != 1 {
		t.Errorf("Read() = %v, want generation %d running", s, gen)
	}
}

// checkGone checks that a deleted service is gone everywhere: record,
// backend, account and sources.
func checkGone(t *testing.T, e *env, c runtimev1.RuntimeServiceClient, ctx context.Context, ref runtime.Ref, accountID string) {
	t.Helper()
	_, err := c.Read(ctx, &runtimev1.ReadRequest{Name: ref.Name})
	statustest.Want(t, "Read after Delete", err, codes.NotFound, fmt.Sprintf("no service %q in namespace %q", ref.Name, ref.Namespace))
	if !slices.Contains(e.backend.deleted, ref) {
		t.Errorf("backend deletions %v, want %s", e.backend.deleted, ref)
	}
	_, accounts := e.p.Auth(t)
	_, err = accounts.Get(e.admin, &authv1.GetRequest{Namespace: ref.Namespace, Id: accountID})
	statustest.WantCode(t, "the service account after Delete", err, codes.NotFound)
	if keys := e.keys(t, "sources", ref.Namespace+"/"); len(keys) != 0 {
		t.Errorf("sources after Delete: %v, want none", keys)
	}
}

// keys lists the keys of a table of _runtime under prefix.
func (e *env) keys(t *testing.T, table, prefix string) []string {
	t.Helper()
	recs, err := e.store.ScanAll(t.Context(), table, prefix)
	if err != nil && !errors.Is(err, storeclient.ErrNotFound) {
		t.Fatalf("scan %s: %v", table, err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Key)
	}
	return out
}

// TestLogs checks that Logs reaches the backend's lines for the
// service, and that a service without a record is NotFound.
func TestLogs(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	ctx := e.tenant(t, "log-space", "dev", "developer")
	src := mustUpload(t, ctx, c, "hello")
	if _, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: src}}); err != nil {
		t.Fatal(err)
	}
	stream, err := c.Logs(ctx, &runtimev1.LogsRequest{Name: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		line, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Logs().Recv() = %v", err)
		}
		got = append(got, fmt.Sprintf("%d %s %s", line.GetInstance(), line.GetStream(), line.GetMessage()))
	}
	if diff := cmp.Diff([]string{"1 stdout generation 1"}, got); diff != "" {
		t.Errorf("Logs() (-want +got):\n%s", diff)
	}
}

// TestAccountConflicts creates services whose accounts cannot be made: in
// a namespace that does not exist, and under a name a person's account
// holds. Each Create fails whole, and the person's account is untouched.
func TestAccountConflicts(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	src, err := upload(e.admin, c, "empty-space", "hello", packDir(t, helloFiles))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Create(e.admin, &runtimev1.CreateRequest{Namespace: "empty-space", Service: &runtimev1.Service{Name: "hello", Source: src}})
	statustest.Want(t, "Create in a namespace without accounts", err, codes.NotFound, `namespace "empty-space" has no accounts yet; create one first`)

	owner := e.tenant(t, "taken-space", "owner", "admin")
	_, accounts := e.p.Auth(t)
	if _, err := accounts.Create(owner, &authv1.CreateRequest{Name: "service-hello", Secret: "person-secret-1"}); err != nil {
		t.Fatal(err)
	}
	src = mustUpload(t, owner, c, "hello")
	_, err = c.Create(owner, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: "hello", Source: src}})
	statustest.WantCode(t, "Create under a person's account name", err, codes.AlreadyExists)
	_, err = c.Read(owner, &runtimev1.ReadRequest{Name: "hello"})
	statustest.Want(t, "Read after the failed Create", err, codes.NotFound, `no service "hello" in namespace "taken-space"`)
	e.p.Login(t, "taken-space", "service-hello", "person-secret-1")
}
