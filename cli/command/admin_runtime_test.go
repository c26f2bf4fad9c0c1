package command

import (
	"encoding/json"
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// TestAdminResize resizes with each way of writing CPU and memory and
// checks what the runtime was asked and what a person reads.
func TestAdminResize(t *testing.T) {
	h := newHarness(t)
	h.login()
	tests := []struct {
		args []string
		want *runtimev1.ResizeRequest
		out  string // a regular expression the whole stdout must match
	}{
		{[]string{"--cpu", "500m", "--memory", "512Mi", "--instances", "3"},
			&runtimev1.ResizeRequest{Namespace: "tenant-a", Name: "hello", Instances: 3, Resources: &runtimev1.Resources{CpuMillis: 500, MemoryMib: 512}},
			`^Resized hello in namespace 'tenant-a' to 3 instances of 500m CPU and 512Mi memory \(generation 2\)\.\nRunning instances restart: new ones start before old ones stop\.\n$`},
		{[]string{"--cpu", "0.5", "--memory", "1Gi"},
			&runtimev1.ResizeRequest{Namespace: "tenant-a", Name: "hello", Resources: &runtimev1.Resources{CpuMillis: 500, MemoryMib: 1024}}, ``},
		{[]string{"--memory", "512M"},
			&runtimev1.ResizeRequest{Namespace: "tenant-a", Name: "hello", Resources: &runtimev1.Resources{MemoryMib: 512}}, ``},
		{[]string{"--cpu", "2"},
			&runtimev1.ResizeRequest{Namespace: "tenant-a", Name: "hello", Resources: &runtimev1.Resources{CpuMillis: 2000}}, ``},
		{[]string{"--instances", "3"},
			&runtimev1.ResizeRequest{Namespace: "tenant-a", Name: "hello", Instances: 3},
			`^Resized hello in namespace 'tenant-a' to 3 instances of 100m CPU and 128Mi memory \(generation 2\)\.\nRunning instances keep running: the change applies in place\.\nNote: CPU is not enforced by this backend: instances may use more than they ask for\.\n$`},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		t.Run(name, func(t *testing.T) {
			before := len(h.p.Resizes())
			r := h.mustRun(append([]string{"admin", "resize", "hello", "--namespace", "tenant-a"}, tt.args...)...)
			got := h.p.Resizes()
			if len(got) != before+1 {
				t.Fatalf("micro admin resize %s sent %d requests, want 1", name, len(got)-before)
			}
			if diff := cmp.Diff(tt.want, got[len(got)-1], protocmp.Transform()); diff != "" {
				t.Errorf("micro admin resize %s asked (-want +got):\n%s", name, diff)
			}
			if tt.out != "" && !regexp.MustCompile(tt.out).MatchString(r.stdout) {
				t.Errorf("micro admin resize %s = %q, want it to match %q", name, r.stdout, tt.out)
			}
		})
	}
}

// TestAdminResizeUsage checks that bad flags are usage errors that send
// nothing.
func TestAdminResizeUsage(t *testing.T) {
	h := newHarness(t)
	h.login()
	for _, args := range [][]string{
		{"hello", "--namespace", "tenant-a"},
		{"hello", "--instances", "2"},
		{"--namespace", "tenant-a", "--instances", "2"},
		{"hello", "--namespace", "tenant-a", "--memory", "512"},
		{"hello", "--namespace", "tenant-a", "--memory", "512Ki"},
		{"hello", "--namespace", "tenant-a", "--cpu", "0.0001"},
		{"hello", "--namespace", "tenant-a", "--cpu", "lots"},
	} {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			if r := h.run(append([]string{"admin", "resize"}, args...)...); r.code != ExitUsage {
				t.Errorf("micro admin resize %s = exit %d (%q), want %d", name, r.code, r.stderr, ExitUsage)
			}
		})
	}
	if n := len(h.p.Resizes()); n != 0 {
		t.Errorf("the platform received %d resizes, want none", n)
	}
	if r := h.run("admin", "quota", "set", "tenant-a"); r.code != ExitUsage {
		t.Errorf("micro admin quota set without a limit = exit %d, want %d", r.code, ExitUsage)
	}
	if r := h.run("admin", "quota", "set", "tenant-a", "--services", "0"); r.code != ExitUsage {
		t.Errorf("micro admin quota set --services 0 = exit %d, want %d", r.code, ExitUsage)
	}
}

// TestAdminQuota sets a namespace's quota a limit at a time: what is not
// given stays as it was.
func TestAdminQuota(t *testing.T) {
	h := newHarness(t)
	h.login()
	r := h.mustRun("admin", "quota", "get", "tenant-a")
	want := `^RESOURCE +USED +QUOTA\ncpu +500m +2\nmemory +512Mi +2Gi\nservices +2 +10\ninstances +4 +-\n\nNamespace 'tenant-a' has the platform's default quota\.\n$`
	if !regexp.MustCompile(want).MatchString(r.stdout) {
		t.Errorf("micro admin quota get = %q, want it to match %q", r.stdout, want)
	}
	h.mustRun("admin", "quota", "set", "tenant-a", "--cpu", "4", "--memory", "8G")
	if got := h.p.Quota("tenant-a"); !cmp.Equal(got, &runtimev1.Quota{CpuMillis: 4000, MemoryMib: 8192}, protocmp.Transform()) {
		t.Errorf("quota after setting CPU and memory = %v, want 4000m and 8192 MiB, services on the default", got)
	}
	r = h.mustRun("admin", "quota", "set", "tenant-a", "--services", "3")
	if got := h.p.Quota("tenant-a"); !cmp.Equal(got, &runtimev1.Quota{CpuMillis: 4000, MemoryMib: 8192, Services: 3}, protocmp.Transform()) {
		t.Errorf("quota after setting services = %v, want CPU and memory kept", got)
	}
	if !strings.Contains(r.stdout, "memory     512Mi  8Gi") {
		t.Errorf("micro admin quota set = %q, want the memory row with 8Gi", r.stdout)
	}
}

// TestAdminNamespaces lists every page of namespaces, as a table and as
// JSON.
func TestAdminNamespaces(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("admin", "quota", "set", "tenant-b", "--services", "3")
	r := h.mustRun("admin", "namespaces")
	want := `^NAMESPACE +CPU +MEMORY +SERVICES +INSTANCES +QUOTA +BILLING +CREATED\n` +
		`tenant-a +500m/2 +512Mi/2Gi +2/10 +4 +default +active +\d{4}-.*\n` +
		`tenant-b +500m/2 +512Mi/2Gi +2/3 +4 +own +exempt +\d{4}-.*\n$`
	if !regexp.MustCompile(want).MatchString(r.stdout) {
		t.Errorf("micro admin namespaces = %q, want it to match %q", r.stdout, want)
	}
	r = h.mustRun("admin", "namespaces", "-o", "json")
	var out struct {
		Namespaces []struct{ Namespace string } `json:"namespaces"`
		Billing    map[string]string            `json:"billing"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Namespaces) != 2 {
		t.Errorf("micro admin namespaces -o json = %q (%v), want both namespaces", r.stdout, err)
	}
	if want := map[string]string{"tenant-a": "active", "tenant-b": "exempt"}; !maps.Equal(out.Billing, want) {
		t.Errorf("micro admin namespaces -o json billing = %v, want %v", out.Billing, want)
	}
}

// TestAdminCommandsRefusedForTenants checks that a refusal by the
// platform, as a tenant gets, exits 4 from every admin command.
func TestAdminCommandsRefusedForTenants(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.p.FailWith(status.Error(codes.PermissionDenied, `only admins of "micro" may do this`))
	defer h.p.FailWith(nil)
	for _, args := range [][]string{
		{"admin", "resize", "hello", "--namespace", "tenant-a", "--instances", "2"},
		{"admin", "quota", "get", "tenant-a"},
		{"admin", "quota", "set", "tenant-a", "--services", "2"},
		{"admin", "namespaces"},
	} {
		name := strings.Join(args, " ")
		if r := h.run(args...); r.code != ExitPermissionDenied {
			t.Errorf("micro %s as a tenant = exit %d (%q), want %d", name, r.code, r.stderr, ExitPermissionDenied)
		}
	}
}
