package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

// rpcs calls every StoreService RPC against one database. Writes and
// deletes aim at the key the setup stored, so that a leak would show.
var rpcs = []struct {
	name string
	call func(ctx context.Context, c storev1.StoreServiceClient, db string) error
}{
	{"Read", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Read(ctx, &storev1.ReadRequest{Database: db, Key: "k"})
		return err
	}},
	{"Read prefix", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Read(ctx, &storev1.ReadRequest{Database: db, Prefix: true})
		return err
	}},
	{"Read suffix", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Read(ctx, &storev1.ReadRequest{Database: db, Key: "k", Suffix: true})
		return err
	}},
	{"Write", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Write(ctx, &storev1.WriteRequest{Database: db, Record: &storev1.Record{Key: "k", Value: []byte("stolen")}})
		return err
	}},
	{"Write new key", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Write(ctx, &storev1.WriteRequest{Database: db, Record: &storev1.Record{Key: "planted", Value: []byte("x")}})
		return err
	}},
	{"Delete", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Delete(ctx, &storev1.DeleteRequest{Database: db, Key: "k"})
		return err
	}},
	{"List", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.List(ctx, &storev1.ListRequest{Database: db})
		return err
	}},
	{"Tables", func(ctx context.Context, c storev1.StoreServiceClient, db string) error {
		_, err := c.Tables(ctx, &storev1.TablesRequest{Database: db})
		return err
	}},
}

// tenants is a store holding one record for each of tenant A, tenant B
// and the auth service (in _auth and in micro), with clients acting as them.
type tenants struct {
	e                         *env
	tenantA, tenantB, authSvc storev1.StoreServiceClient
	admin                     storev1.StoreServiceClient
}

func newTenants(t *testing.T) tenants {
	t.Helper()
	e := start(t, 0)
	ts := tenants{
		e:       e,
		tenantA: e.user(t, "tenant-a", "developer"),
		tenantB: e.user(t, "tenant-b", "developer"),
		authSvc: e.core(t, "auth"),
		admin:   e.user(t, "micro", "admin"),
	}
	for _, s := range []struct {
		c  storev1.StoreServiceClient
		db string
	}{{ts.tenantA, ""}, {ts.tenantB, ""}, {ts.authSvc, "_auth"}, {ts.authSvc, ""}} {
		if _, err := s.c.Write(t.Context(), &storev1.WriteRequest{Database: s.db, Record: &storev1.Record{Key: "k", Value: []byte("mine")}}); err != nil {
			t.Fatalf("setup Write(%q) = %v", s.db, err)
		}
	}
	return ts
}

// TestIsolation runs every RPC as callers against databases they may not
// open, and checks that each is refused and nothing was read or changed.
func TestIsolation(t *testing.T) {
	ts := newTenants(t)
	e, ctx := ts.e, t.Context()
	denied := []struct {
		name   string
		client storev1.StoreServiceClient
		db     string
	}{
		{"tenant A on tenant B", ts.tenantA, "tenant-b"},
		{"tenant A on _auth", ts.tenantA, "_auth"},
		{"tenant A on micro", ts.tenantA, "micro"},
		{"tenant A's service on tenant B", e.workload(t, "tenant-a", "greeter"), "tenant-b"},
		{"tenant A's service on _auth", e.workload(t, "tenant-a", "greeter"), "_auth"},
		{"tenant service named auth on _auth", e.workload(t, "tenant-a", "auth"), "_auth"},
		{"config on _auth", e.core(t, "config"), "_auth"},
		{"auth on a tenant", ts.authSvc, "tenant-b"},
		{"admin on _auth", ts.admin, "_auth"},
		{"plain micro account on tenant B", e.user(t, "micro", "developer"), "tenant-b"},
		{"plain micro account on _auth", e.user(t, "micro", "developer"), "_auth"},
		{"account named like the service", e.user(t, "auth", "admin"), "_auth"},
	}
	for _, d := range denied {
		for _, r := range rpcs {
			t.Run(d.name+"/"+r.name, func(t *testing.T) {
				if err := r.call(ctx, d.client, d.db); status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s(%q) = %v, want PermissionDenied", r.name, d.db, err)
				}
			})
		}
	}
	ts.wantUnchanged(t)
	_, err := ts.tenantA.Read(ctx, &storev1.ReadRequest{Database: "tenant-b", Key: "k"})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, `may not open database "tenant-b", only "tenant-a"`) {
		t.Errorf("Read(tenant-b) as tenant A says %q, want the database refused and the one it opens", msg)
	}
}

// wantUnchanged checks that tenant B's and _auth's only record is as the
// setup wrote it.
func (ts tenants) wantUnchanged(t *testing.T) {
	t.Helper()
	for _, s := range []struct {
		c  storev1.StoreServiceClient
		db string
	}{{ts.tenantB, ""}, {ts.authSvc, "_auth"}} {
		resp, err := s.c.Read(t.Context(), &storev1.ReadRequest{Database: s.db, Prefix: true})
		if err != nil {
			t.Fatalf("Read(%q, all) = %v", s.db, err)
		}
		recs := resp.GetRecords()
		if len(recs) != 1 || recs[0].GetKey() != "k" || string(recs[0].GetValue()) != "mine" || recs[0].GetVersion() != 1 {
			t.Errorf("Read(%q, all) = %v, want only k = \"mine\" at version 1", s.db, recs)
		}
	}
}

// TestAccess checks the callers that may open a database other than their
// namespace's, or name their own.
func TestAccess(t *testing.T) {
	ts := newTenants(t)
	tests := []struct {
		name   string
		client storev1.StoreServiceClient
		db     string
	}{
		{"tenant A on its own", ts.tenantA, "tenant-a"},
		{"tenant A by default", ts.tenantA, ""},
		{"tenant A's service by default", ts.e.workload(t, "tenant-a", "greeter"), ""},
		{"auth on _auth", ts.authSvc, "_auth"},
		{"auth on micro by default", ts.authSvc, ""},
		{"admin on tenant B", ts.admin, "tenant-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := rpcs[0].call(t.Context(), tt.client, tt.db); err != nil {
				t.Errorf("Read(%q) = %v, want nil", tt.db, err)
			}
		})
	}
}

// TestDatabasesIsolation checks that Databases lists exactly the databases
// holding records that the caller may open.
func TestDatabasesIsolation(t *testing.T) {
	ts := newTenants(t)
	tests := []struct {
		name   string
		client storev1.StoreServiceClient
		want   []string
	}{
		{"tenant", ts.tenantA, []string{"tenant-a"}},
		{"tenant without records", ts.e.user(t, "tenant-c", "developer"), nil},
		{"core service", ts.authSvc, []string{"_auth", "micro"}},
		{"other core service", ts.e.core(t, "config"), []string{"micro"}},
		{"admin", ts.admin, []string{"micro", "tenant-a", "tenant-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.client.Databases(t.Context(), &storev1.DatabasesRequest{})
			if err != nil {
				t.Fatalf("Databases() = %v", err)
			}
			if diff := cmp.Diff(tt.want, resp.GetDatabases(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Databases() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWorkloadWithoutToken checks that a tenant's service is not taken for
// a core service by its certificate: without its token it is nobody, even
// on its own namespace's database.
func TestWorkloadWithoutToken(t *testing.T) {
	ts := newTenants(t)
	for _, db := range []string{"", "tenant-a"} {
		err := rpcs[0].call(t.Context(), ts.e.dial(t, "tenant-a", "greeter"), db)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("Read(%q) as tenant-a/greeter without a token = %v, want Unauthenticated", db, err)
		}
	}
}
