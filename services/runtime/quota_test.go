package runtime_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/runtime"
)

// create makes the service name in the caller's namespace with n instances
// of res.
func create(t *testing.T, c runtimev1.RuntimeServiceClient, ctx context.Context, src, name string, n uint32, res *runtimev1.Resources) error {
	t.Helper()
	_, err := c.Create(ctx, &runtimev1.CreateRequest{Service: &runtimev1.Service{Name: name, Source: src},
		Options: &runtimev1.Options{Instances: n, Resources: res}})
	return err
}

// wantOver fails unless err is ResourceExhausted and its message names
// each of over.
func wantOver(t *testing.T, what string, err error, over ...string) {
	t.Helper()
	statustest.WantCode(t, what, err, codes.ResourceExhausted)
	for _, o := range over {
		if !strings.Contains(status.Convert(err).Message(), o) {
			t.Errorf("%s = %v, want the message to name %q", what, err, o)
		}
	}
}

// TestQuotaDefaults reads a namespace's default quota and its usage.
func TestQuotaDefaults(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	dev := e.tenant(t, "calm-space", "dev", "developer")
	src := mustUpload(t, dev, c, "one")
	if err := create(t, c, dev, src, "one", 2, &runtimev1.Resources{CpuMillis: 250, MemoryMib: 64}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetQuota(e.admin, &runtimev1.GetQuotaRequest{Namespace: "calm-space"})
	if err != nil {
		t.Fatal(err)
	}
	want := &runtimev1.GetQuotaResponse{
		Quota:           &runtimev1.Quota{CpuMillis: runtime.DefaultQuotaCPUMillis, MemoryMib: runtime.DefaultQuotaMemoryMiB, Services: runtime.DefaultQuotaServices},
		Usage:           &runtimev1.Usage{CpuMillis: 500, MemoryMib: 128, Services: 1, Instances: 2},
		PlatformDefault: true,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("GetQuota(calm-space) mismatch (-want +got):\n%s", diff)
	}
}

// TestQuotaOfUnknownNamespace asks for and sets the quota of a namespace
// no account created: both are NotFound, and nothing is kept for it, so
// the namespace created later starts on the platform's default.
func TestQuotaOfUnknownNamespace(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	const msg = `namespace "late-space" does not exist; 'micro admin namespaces' lists them`
	_, err := c.SetQuota(e.admin, &runtimev1.SetQuotaRequest{Namespace: "late-space", Quota: &runtimev1.Quota{Services: 1}})
	statustest.Want(t, "SetQuota(late-space)", err, codes.NotFound, msg)
	_, err = c.GetQuota(e.admin, &runtimev1.GetQuotaRequest{Namespace: "late-space"})
	statustest.Want(t, "GetQuota(late-space)", err, codes.NotFound, msg)

	e.tenant(t, "late-space", "dev", "developer")
	got, err := c.GetQuota(e.admin, &runtimev1.GetQuotaRequest{Namespace: "late-space"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetPlatformDefault() || got.GetQuota().GetServices() != runtime.DefaultQuotaServices {
		t.Errorf("GetQuota(late-space) once created = %v, want the platform's default", got)
	}
}

// TestQuotaRefusesGrowth sets a tight quota and checks that every change
// that would go past it is ResourceExhausted, naming what is over, and
// changes nothing, while what fits, and what shrinks, goes through.
func TestQuotaRefusesGrowth(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	dev := e.tenant(t, "tight-space", "dev", "developer")
	_, err := c.SetQuota(e.admin, &runtimev1.SetQuotaRequest{Namespace: "tight-space", Quota: &runtimev1.Quota{CpuMillis: 1000, MemoryMib: 512, Services: 1}})
	if err != nil {
		t.Fatal(err)
	}
	src := mustUpload(t, dev, c, "one")
	small := &runtimev1.Resources{CpuMillis: 200, MemoryMib: 128}
	wantOver(t, "Create of 5 x 128 MiB", create(t, c, dev, src, "one", 5, small), "640 MiB of memory, over its quota of 512 MiB")
	if err := create(t, c, dev, src, "one", 2, small); err != nil {
		t.Fatalf("Create within the quota = %v", err)
	}
	wantOver(t, "Create of a second service", create(t, c, dev, src, "two", 1, small), "2 services, over its quota of 1 service")
	_, err = c.Update(dev, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: "one"},
		Options: &runtimev1.Options{Instances: 2, Resources: &runtimev1.Resources{CpuMillis: 600, MemoryMib: 128}}})
	wantOver(t, "Update to 2 x 600m", err, "1200 millicores of CPU, over its quota of 1000")
	_, err = c.Resize(e.admin, &runtimev1.ResizeRequest{Namespace: "tight-space", Name: "one", Instances: 6})
	wantOver(t, "Resize to 6 instances", err, "1200 millicores", "768 MiB")
	checkSize(t, e, "tight-space", "one", 1, 2, small)

	resp, err := c.Resize(e.admin, &runtimev1.ResizeRequest{Namespace: "tight-space", Name: "one", Instances: 3, Resources: &runtimev1.Resources{MemoryMib: 96}})
	if err != nil {
		t.Fatalf("Resize within the quota = %v", err)
	}
	if resp.GetService().GetGeneration() != 2 || resp.GetRollout() == runtimev1.Rollout_ROLLOUT_UNSPECIFIED {
		t.Errorf("Resize() = %v, want generation 2 and a rollout", resp)
	}
	checkSize(t, e, "tight-space", "one", 2, 3, &runtimev1.Resources{CpuMillis: 200, MemoryMib: 96})
}

// TestQuotaLowered lowers a quota below what a namespace uses: it is
// accepted and reported, what runs keeps running, a shrink goes through
// and growth does not.
func TestQuotaLowered(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	dev := e.tenant(t, "shrink-space", "dev", "developer")
	src := mustUpload(t, dev, c, "one")
	if err := create(t, c, dev, src, "one", 4, &runtimev1.Resources{CpuMillis: 100, MemoryMib: 128}); err != nil {
		t.Fatal(err)
	}
	resp, err := c.SetQuota(e.admin, &runtimev1.SetQuotaRequest{Namespace: "shrink-space", Quota: &runtimev1.Quota{MemoryMib: 256}})
	if err != nil || resp.GetUsage().GetMemoryMib() != 512 || resp.GetQuota().GetMemoryMib() != 256 || resp.GetQuota().GetServices() != runtime.DefaultQuotaServices {
		t.Fatalf("SetQuota(256 MiB) = %v, %v, want it applied with usage 512 MiB and the default for the rest", resp, err)
	}
	if q := e.backend.quotaSnapshot()["shrink-space"]; q.MemoryMiB != 256 {
		t.Errorf("quota the backend was given = %+v, want 256 MiB", q)
	}
	_, err = c.Resize(e.admin, &runtimev1.ResizeRequest{Namespace: "shrink-space", Name: "one", Instances: 3})
	statustest.WantCode(t, "Resize down while over the quota", err, codes.OK)
	_, err = c.Resize(e.admin, &runtimev1.ResizeRequest{Namespace: "shrink-space", Name: "one", Resources: &runtimev1.Resources{MemoryMib: 129}})
	wantOver(t, "Resize up while over the quota", err, "387 MiB of memory, over its quota of 256 MiB")
}

// TestSurgeFollowsTheQuota checks that a deployment says whether the
// quota leaves room for one more instance during a rollout.
func TestSurgeFollowsTheQuota(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	dev := e.tenant(t, "surge-space", "dev", "developer")
	if _, err := c.SetQuota(e.admin, &runtimev1.SetQuotaRequest{Namespace: "surge-space", Quota: &runtimev1.Quota{MemoryMib: 384}}); err != nil {
		t.Fatal(err)
	}
	src := mustUpload(t, dev, c, "one")
	ref := runtime.Ref{Namespace: "surge-space", Name: "one"}
	if err := create(t, c, dev, src, "one", 2, &runtimev1.Resources{MemoryMib: 128}); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.backend.last(ref); !d.Surge || d.Quota.MemoryMiB != 384 {
		t.Errorf("deployment of 2 x 128 MiB under 384 MiB: surge %v, quota %+v; want room to surge", d.Surge, d.Quota)
	}
	if _, err := c.Resize(e.admin, &runtimev1.ResizeRequest{Namespace: "surge-space", Name: "one", Instances: 3}); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.backend.last(ref); d.Surge || d.Instances != 3 {
		t.Errorf("deployment of 3 x 128 MiB under 384 MiB: surge %v, %d instances; want no room to surge", d.Surge, d.Instances)
	}
}

// TestAdminValidation sends admin calls with bad input: each gets
// InvalidArgument or NotFound and changes nothing.
func TestAdminValidation(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	dev := e.tenant(t, "valid-space", "dev", "developer")
	src := mustUpload(t, dev, c, "one")
	if err := create(t, c, dev, src, "one", 1, nil); err != nil {
		t.Fatal(err)
	}
	quotas := e.backend.quotaSnapshot()
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"resize nothing", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Namespace: "valid-space", Name: "one"}), codes.InvalidArgument},
		{"resize without a namespace", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Name: "one", Instances: 2}), codes.InvalidArgument},
		{"resize in micro", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Namespace: "micro", Name: "one", Instances: 2}), codes.InvalidArgument},
		{"resize to 101", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Namespace: "valid-space", Name: "one", Instances: 101}), codes.InvalidArgument},
		{"resize to 20 GiB", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Namespace: "valid-space", Name: "one", Resources: &runtimev1.Resources{MemoryMib: 20480}}), codes.InvalidArgument},
		{"resize a bad name", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Namespace: "valid-space", Name: "One!", Instances: 2}), codes.InvalidArgument},
		{"resize a missing service", resizeCall(c, e.admin, &runtimev1.ResizeRequest{Namespace: "valid-space", Name: "two", Instances: 2}), codes.NotFound},
		{"quota without a quota", quotaCall(c, e.admin, &runtimev1.SetQuotaRequest{Namespace: "valid-space"}), codes.InvalidArgument},
		{"quota of micro", quotaCall(c, e.admin, &runtimev1.SetQuotaRequest{Namespace: "micro", Quota: &runtimev1.Quota{Services: 2}}), codes.InvalidArgument},
		{"quota over the bound", quotaCall(c, e.admin, &runtimev1.SetQuotaRequest{Namespace: "valid-space", Quota: &runtimev1.Quota{Services: 1001}}), codes.InvalidArgument},
		{"namespaces page too big", func() error {
			_, err := c.ListNamespaces(e.admin, &runtimev1.ListNamespacesRequest{PageSize: 1001})
			return err
		}, codes.InvalidArgument},
		{"namespaces bad token", func() error {
			_, err := c.ListNamespaces(e.admin, &runtimev1.ListNamespacesRequest{PageToken: "nope"})
			return err
		}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { statustest.WantCode(t, tt.name, tt.call(), tt.want) })
	}
	checkSize(t, e, "valid-space", "one", 1, 1, &runtimev1.Resources{CpuMillis: runtime.DefaultCPUMillis, MemoryMib: runtime.DefaultMemoryMiB})
	if got := e.backend.quotaSnapshot(); !maps.Equal(got, quotas) {
		t.Errorf("quotas given to the backend = %v, want %v as before", got, quotas)
	}
}

// TestListNamespaces lists the namespaces auth knows, page by page, with
// their quotas and usage; micro is left out.
func TestListNamespaces(t *testing.T) {
	e := newEnv(t, options{})
	c := e.client(t)
	dev := e.tenant(t, "alpha-space", "dev", "developer")
	e.tenant(t, "bravo-space", "dev", "developer")
	src := mustUpload(t, dev, c, "one")
	if err := create(t, c, dev, src, "one", 2, &runtimev1.Resources{CpuMillis: 100, MemoryMib: 64}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetQuota(e.admin, &runtimev1.SetQuotaRequest{Namespace: "bravo-space", Quota: &runtimev1.Quota{Services: 3}}); err != nil {
		t.Fatal(err)
	}
	var got []*runtimev1.NamespaceUsage
	req := &runtimev1.ListNamespacesRequest{PageSize: 1}
	for {
		resp, err := c.ListNamespaces(e.admin, req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.GetNamespaces()...)
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if len(got) != 2 || got[0].GetNamespace() != "alpha-space" || got[1].GetNamespace() != "bravo-space" {
		t.Fatalf("ListNamespaces() = %v, want alpha-space and bravo-space", got)
	}
	if u := got[0].GetUsage(); u.GetInstances() != 2 || u.GetMemoryMib() != 128 || !got[0].GetPlatformDefault() || got[0].GetCreated() == nil {
		t.Errorf("alpha-space = %v, want 2 instances, 128 MiB, the default quota and a creation time", got[0])
	}
	if q := got[1].GetQuota(); q.GetServices() != 3 || got[1].GetPlatformDefault() {
		t.Errorf("bravo-space = %v, want its own quota of 3 services", got[1])
	}
}

func resizeCall(c runtimev1.RuntimeServiceClient, ctx context.Context, req *runtimev1.ResizeRequest) func() error {
	return func() error { _, err := c.Resize(ctx, req); return err }
}

func quotaCall(c runtimev1.RuntimeServiceClient, ctx context.Context, req *runtimev1.SetQuotaRequest) func() error {
	return func() error { _, err := c.SetQuota(ctx, req); return err }
}

// checkSize fails unless the service is at generation gen with n
// instances of res, as the admin reads it.
func checkSize(t *testing.T, e *env, ns, name string, gen uint64, n uint32, res *runtimev1.Resources) {
	t.Helper()
	resp, err := e.client(t).Read(e.admin, &runtimev1.ReadRequest{Namespace: ns, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	svc := resp.GetServices()[0]
	o := svc.GetOptions()
	if svc.GetGeneration() != gen || o.GetInstances() != n || !cmp.Equal(o.GetResources(), res, protocmp.Transform()) {
		t.Errorf("%s/%s = generation %d, %d x %v; want generation %d, %d x %v", ns, name, svc.GetGeneration(), o.GetInstances(), o.GetResources(), gen, n, res)
	}
}

// TestAuthRecordsDefaultQuota checks that a new namespace's default quota
// is recorded when auth creates it, and that auth may set nothing but the
// default, and other core services nothing at all.
func TestAuthRecordsDefaultQuota(t *testing.T) {
	e := newEnv(t, options{})
	e.tenant(t, "fresh-space", "dev", "developer")
	if got := e.keys(t, "quotas", ""); !slices.Contains(got, "fresh-space") {
		t.Errorf("recorded quotas = %v, want fresh-space's, recorded by auth", got)
	}
	got, err := e.client(t).GetQuota(e.admin, &runtimev1.GetQuotaRequest{Namespace: "fresh-space"})
	if err != nil || !got.GetPlatformDefault() || got.GetQuota().GetServices() != runtime.DefaultQuotaServices {
		t.Errorf("GetQuota(fresh-space) = %v, %v, want the platform's default", got, err)
	}
	asAuth := runtimev1.NewRuntimeServiceClient(e.p.Dial(t, e.p.Addr(platform.Runtime), platform.Namespace, platform.Auth, coretest.Core(platform.Runtime)))
	_, err = asAuth.SetQuota(t.Context(), &runtimev1.SetQuotaRequest{Namespace: "fresh-space", Quota: &runtimev1.Quota{Services: 100}})
	statustest.WantCode(t, "SetQuota(100 services) by auth", err, codes.PermissionDenied)
	asConfig := runtimev1.NewRuntimeServiceClient(e.p.Dial(t, e.p.Addr(platform.Runtime), platform.Namespace, platform.Config, coretest.Core(platform.Runtime)))
	_, err = asConfig.SetQuota(t.Context(), &runtimev1.SetQuotaRequest{Namespace: "fresh-space", Quota: &runtimev1.Quota{}})
	statustest.WantCode(t, "SetQuota(default) by config", err, codes.PermissionDenied)
	_, err = asAuth.SetQuota(t.Context(), &runtimev1.SetQuotaRequest{Namespace: "fresh-space", Quota: &runtimev1.Quota{}})
	statustest.WantCode(t, "SetQuota(default) by auth again", err, codes.OK)
}
