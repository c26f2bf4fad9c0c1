package registryserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	registryv1 "m3o.dev/proto/m3o/registry/v1"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/registry/memory"
)

func service(name string, ids ...string) *registryv1.Service {
	s := &registryv1.Service{Name: name, Version: "v1"}
	for i, id := range ids {
		s.Nodes = append(s.Nodes, &registryv1.Node{Id: id, Address: fmt.Sprintf("127.0.0.1:%d", 9000+i)})
	}
	return s
}

// callers are the identities the isolation test acts as.
type callers struct {
	tenantA, tenantB, tenantASvc, microUser, admin, core, config registryv1.RegistryServiceClient
	// tenantASvcNoToken is tenant A's service calling with its
	// certificate alone, which names no account.
	tenantASvcNoToken registryv1.RegistryServiceClient
}

func newCallers(t *testing.T, e *env) callers {
	return callers{
		tenantA:           e.user(t, "tenant-a", "developer"),
		tenantB:           e.user(t, "tenant-b", "developer"),
		tenantASvc:        e.workload(t, "tenant-a", "greeter"),
		tenantASvcNoToken: e.dial(t, "tenant-a", "greeter"),
		microUser:         e.user(t, "micro", "developer"),
		admin:             e.user(t, "micro", "admin"),
		core:              e.core(t, "runtime"),
		config:            e.core(t, "config"),
	}
}

// names lists the services of a response, for comparisons.
func names(ss []*registryv1.Service) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.GetName())
	}
	return out
}

// TestDomains calls every RPC as every kind of caller against every kind of
// domain, and checks who may do what and that nobody sees another tenant.
func TestDomains(t *testing.T) {
	e := startRegistry(t, memory.New(memory.Options{}))
	c := newCallers(t, e)
	ctx := t.Context()
	setup := []struct {
		client registryv1.RegistryServiceClient
		name   string
	}{{c.tenantA, "a-svc"}, {c.tenantB, "b-svc"}, {c.core, "m-svc"}}
	for _, s := range setup {
		if _, err := s.client.Register(ctx, &registryv1.RegisterRequest{Service: service(s.name, "n1")}); err != nil {
			t.Fatalf("Register(%s) = %v, want nil", s.name, err)
		}
	}

	tests := []struct {
		name   string
		client registryv1.RegistryServiceClient
		call   func(registryv1.RegistryServiceClient) error
		want   codes.Code
	}{
		{"tenant registers in its own domain", c.tenantA, register("a-two", ""), codes.OK},
		{"tenant service registers with its token", c.tenantASvc, register("a-three", ""), codes.OK},
		{"tenant service registers by mTLS identity alone", c.tenantASvcNoToken, register("x", ""), codes.Unauthenticated},
		{"tenant service reads by mTLS identity alone", c.tenantASvcNoToken, get("a-svc", ""), codes.Unauthenticated},
		{"tenant registers in another tenant's domain", c.tenantA, register("x", "tenant-b"), codes.PermissionDenied},
		{"tenant registers in micro", c.tenantA, register("x", "micro"), codes.PermissionDenied},
		{"tenant service registers in micro", c.tenantASvc, register("x", "micro"), codes.PermissionDenied},
		{"tenant deregisters in another tenant's domain", c.tenantA, deregister("b-svc", "tenant-b"), codes.PermissionDenied},
		{"tenant deregisters in micro", c.tenantA, deregister("m-svc", "micro"), codes.PermissionDenied},
		{"tenant gets its own service", c.tenantA, get("a-svc", ""), codes.OK},
		{"tenant cannot see another tenant's service in its own domain", c.tenantA, get("b-svc", ""), codes.NotFound},
		{"tenant gets from another tenant's domain", c.tenantA, get("b-svc", "tenant-b"), codes.PermissionDenied},
		{"tenant gets from micro", c.tenantA, get("m-svc", "micro"), codes.OK},
		{"tenant lists another tenant's domain", c.tenantA, list("tenant-b"), codes.PermissionDenied},
		{"tenant lists micro", c.tenantA, list("micro"), codes.OK},
		{"tenant watches another tenant's domain", c.tenantA, watchOnce("tenant-b"), codes.PermissionDenied},
		{"tenant watches micro", c.tenantA, watchOnce("micro"), codes.OK},
		{"plain micro account registers in micro", c.microUser, register("x", ""), codes.PermissionDenied},
		{"plain micro account reads micro", c.microUser, get("m-svc", ""), codes.OK},
		{"plain micro account reads a tenant", c.microUser, get("a-svc", "tenant-a"), codes.PermissionDenied},
		{"core service registers in micro", c.core, register("m-two", ""), codes.OK},
		{"core service registers in a tenant's domain", c.core, register("x", "tenant-a"), codes.PermissionDenied},
		{"core service gets from a tenant's domain", c.core, get("a-svc", "tenant-a"), codes.OK},
		{"core service lists a tenant's domain", c.core, list("tenant-a"), codes.OK},
		{"core service watches a tenant's domain", c.core, watchOnce("tenant-a"), codes.OK},
		{"core service deregisters in micro", c.core, deregister("m-two", ""), codes.OK},
		{"core service reads a tenant's domain", c.config, get("a-svc", "tenant-a"), codes.OK},
		{"core service lists a tenant's domain", c.config, list("tenant-a"), codes.OK},
		{"core service other than the runtime deregisters in a tenant's domain", c.config, deregister("a-svc", "tenant-a"), codes.PermissionDenied},
		{"runtime deregisters in a tenant's domain", c.core, deregister("a-three", "tenant-a"), codes.OK},
		{"admin registers in micro", c.admin, register("m-three", ""), codes.OK},
		{"admin registers in a tenant's domain", c.admin, register("by-admin", "tenant-b"), codes.OK},
		{"admin reads a tenant's domain", c.admin, get("b-svc", "tenant-b"), codes.OK},
		{"admin watches a tenant's domain", c.admin, watchOnce("tenant-b"), codes.OK},
		{"admin names a malformed domain", c.admin, get("b-svc", "Tenant_B"), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := status.Code(tt.call(tt.client)); got != tt.want {
				t.Errorf("code = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("a missing service is named", func(t *testing.T) {
		_, err := c.tenantA.GetService(ctx, &registryv1.GetServiceRequest{Name: "b-svc"})
		statustest.Want(t, "GetService(b-svc) as tenant-a", err, codes.NotFound, `no service "b-svc" registered in namespace "tenant-a"`)
	})

	t.Run("lists show only the domain", func(t *testing.T) {
		resp, err := c.tenantA.ListServices(ctx, &registryv1.ListServicesRequest{})
		if err != nil {
			t.Fatalf("ListServices = %v, want nil", err)
		}
		// a-three was taken out by the runtime.
		if diff := cmp.Diff([]string{"a-svc", "a-two"}, names(resp.GetServices())); diff != "" {
			t.Errorf("ListServices as tenant-a (-want +got):\n%s", diff)
		}
	})
	t.Run("denied writes changed nothing", func(t *testing.T) {
		resp, err := c.admin.ListServices(ctx, &registryv1.ListServicesRequest{Domain: "tenant-b"})
		if err != nil {
			t.Fatalf("ListServices(tenant-b) = %v, want nil", err)
		}
		if diff := cmp.Diff([]string{"b-svc", "by-admin"}, names(resp.GetServices())); diff != "" {
			t.Errorf("ListServices(tenant-b) (-want +got):\n%s", diff)
		}
	})
}

func register(name, domain string) func(registryv1.RegistryServiceClient) error {
	return func(c registryv1.RegistryServiceClient) error {
		_, err := c.Register(context.Background(), &registryv1.RegisterRequest{Service: service(name, "n1"), Domain: domain})
		return err
	}
}

func deregister(name, domain string) func(registryv1.RegistryServiceClient) error {
	return func(c registryv1.RegistryServiceClient) error {
		_, err := c.Deregister(context.Background(), &registryv1.DeregisterRequest{Service: service(name), Domain: domain})
		return err
	}
}

func get(name, domain string) func(registryv1.RegistryServiceClient) error {
	return func(c registryv1.RegistryServiceClient) error {
		_, err := c.GetService(context.Background(), &registryv1.GetServiceRequest{Name: name, Domain: domain})
		return err
	}
}

func list(domain string) func(registryv1.RegistryServiceClient) error {
	return func(c registryv1.RegistryServiceClient) error {
		_, err := c.ListServices(context.Background(), &registryv1.ListServicesRequest{Domain: domain})
		return err
	}
}

// watchOnce opens a watch and reads its opening snapshot.
func watchOnce(domain string) func(registryv1.RegistryServiceClient) error {
	return func(c registryv1.RegistryServiceClient) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stream, err := c.Watch(ctx, &registryv1.WatchRequest{Domain: domain})
		if err != nil {
			return err
		}
		ev, err := stream.Recv()
		if err == nil && ev.GetType() != registryv1.EventType_EVENT_TYPE_SNAPSHOT {
			return fmt.Errorf("first event is %v, want a snapshot", ev.GetType())
		}
		return err
	}
}

// TestWatchIsolation checks that a tenant's watch carries only its own
// domain's events while another tenant and the core services are busy.
func TestWatchIsolation(t *testing.T) {
	e := startRegistry(t, memory.New(memory.Options{}))
	c := newCallers(t, e)
	ctx := t.Context()
	stream, err := c.tenantA.Watch(ctx, &registryv1.WatchRequest{})
	if err != nil {
		t.Fatalf("Watch = %v", err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetType() != registryv1.EventType_EVENT_TYPE_SNAPSHOT || len(first.GetSnapshot()) != 0 {
		t.Fatalf("first event = %v, %v, want an empty snapshot", first, err)
	}
	for i := range 5 {
		for _, call := range []struct {
			client registryv1.RegistryServiceClient
			name   string
		}{{c.tenantB, "b"}, {c.core, "m"}, {c.admin, "adm"}} {
			if _, err := call.client.Register(ctx, &registryv1.RegisterRequest{Service: service(fmt.Sprintf("%s-%d", call.name, i), "n1")}); err != nil {
				t.Fatalf("Register = %v", err)
			}
		}
	}
	if _, err := c.admin.Register(ctx, &registryv1.RegisterRequest{Service: service("b-by-admin", "n1"), Domain: "tenant-b"}); err != nil {
		t.Fatalf("Register as admin in tenant-b = %v", err)
	}
	if _, err := c.tenantA.Register(ctx, &registryv1.RegisterRequest{Service: service("a-svc", "n1")}); err != nil {
		t.Fatalf("Register as tenant-a = %v", err)
	}
	// Events arrive in order, so the first one after all the others'
	// registrations must be tenant-a's own.
	ev, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv = %v", err)
	}
	if got := ev.GetType().String() + " " + ev.GetService().GetName(); got != "EVENT_TYPE_CREATE a-svc" {
		t.Errorf("first event after other domains' registrations = %q, want %q", got, "EVENT_TYPE_CREATE a-svc")
	}
}

func TestInvalidRequests(t *testing.T) {
	e := startRegistry(t, memory.New(memory.Options{}))
	c := e.user(t, "tenant-a", "developer")
	big := service("big", "n1")
	big.Nodes[0].Metadata = map[string]string{"blob": strings.Repeat("x", 1<<20)}
	tests := []struct {
		name  string
		req   *registryv1.RegisterRequest
		field string
	}{
		{"no service", &registryv1.RegisterRequest{}, "service"},
		{"no nodes", &registryv1.RegisterRequest{Service: &registryv1.Service{Name: "greeter"}}, "service.nodes"},
		{"bad name", &registryv1.RegisterRequest{Service: service("Greeter", "n1")}, "service.name"},
		{"bad node id", &registryv1.RegisterRequest{Service: service("greeter", "n/1")}, "service.nodes[0].id"},
		{"repeated node id", &registryv1.RegisterRequest{Service: service("greeter", "n1", "n1")}, "service.nodes[1].id"},
		{"bad address", &registryv1.RegisterRequest{Service: &registryv1.Service{Name: "greeter", Nodes: []*registryv1.Node{{Id: "n1", Address: "nowhere"}}}}, "service.nodes[0].address"},
		{"long version", &registryv1.RegisterRequest{Service: &registryv1.Service{Name: "greeter", Version: strings.Repeat("v", 65), Nodes: service("g", "n1").Nodes}}, "service.version"},
		{"ttl too long", &registryv1.RegisterRequest{Service: service("greeter", "n1"), TtlSeconds: 3601}, "ttl_seconds"},
		{"over 1 MiB", &registryv1.RegisterRequest{Service: big}, "service"},
		{"bad domain", &registryv1.RegisterRequest{Service: service("greeter", "n1"), Domain: "x"}, "domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Register(t.Context(), tt.req)
			if got := status.Code(err); got != codes.InvalidArgument {
				t.Fatalf("Register = %v, want InvalidArgument", err)
			}
			if got := violatedField(err); got != tt.field {
				t.Errorf("Register field violation = %q, want %q", got, tt.field)
			}
		})
	}
	resp, err := c.ListServices(t.Context(), &registryv1.ListServicesRequest{})
	if err != nil || len(resp.GetServices()) != 0 {
		t.Errorf("ListServices after invalid registrations = %v, %v, want nothing", names(resp.GetServices()), err)
	}
}

// violatedField returns the field named in err's BadRequest details.
func violatedField(err error) string {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}
