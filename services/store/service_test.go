package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/pkg/identity"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/statustest"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
	"m3o.dev/services/store/storetest"
)

func TestWriteReadDelete(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	ctx := t.Context()
	write := &storev1.WriteRequest{
		Table:  "things",
		Record: &storev1.Record{Key: "ключ/1", Value: []byte("v\x00w"), Metadata: map[string]string{"type": "binary"}},
		Ttl:    durationpb.New(time.Minute),
	}
	resp, err := c.Write(ctx, write)
	if err != nil || resp.GetVersion() != 1 {
		t.Fatalf("Write() = %v, %v, want version 1", resp, err)
	}
	got, err := c.Read(ctx, &storev1.ReadRequest{Table: "things", Key: "ключ/1"})
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	want := &storev1.ReadResponse{Records: []*storev1.Record{{
		Key: "ключ/1", Value: []byte("v\x00w"), Metadata: map[string]string{"type": "binary"}, Version: 1,
		ExpiresAt: timestamppb.New(e.clock.Now().Add(time.Minute)),
	}}}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("Read() mismatch (-want +got):\n%s", diff)
	}
	// The database defaulted to the caller's namespace.
	tables, err := e.user(t, "micro", "admin").Tables(ctx, &storev1.TablesRequest{Database: "tenant-a"})
	if err != nil || !cmp.Equal(tables.GetTables(), []string{"things"}) {
		t.Errorf("Tables(tenant-a) = %v, %v, want [things]", tables, err)
	}

	e.clock.Advance(time.Minute)
	_, err = c.Read(ctx, &storev1.ReadRequest{Table: "things", Key: "ключ/1"})
	statustest.Want(t, "Read() after expiry", err, codes.NotFound, `no record under key "ключ/1" in table "things" of database "tenant-a"`)
	if _, err := c.Write(ctx, &storev1.WriteRequest{Table: "things", Record: &storev1.Record{Key: "k"}}); err != nil {
		t.Fatalf("Write(k) = %v", err)
	}
	if _, err := c.Delete(ctx, &storev1.DeleteRequest{Table: "things", Key: "k"}); err != nil {
		t.Errorf("Delete(k) = %v, want nil", err)
	}
	_, err = c.Delete(ctx, &storev1.DeleteRequest{Table: "things", Key: "k"})
	statustest.Want(t, "Delete(k) again", err, codes.NotFound, `no record under key "k" in table "things" of database "tenant-a"`)
}

func TestCompareAndSet(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	ctx := t.Context()
	write := func(key string, ifVersion *uint64) error {
		_, err := c.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: []byte("v")}, IfVersion: ifVersion})
		return err
	}
	del := func(key string, ifVersion *uint64) error {
		_, err := c.Delete(ctx, &storev1.DeleteRequest{Key: key, IfVersion: ifVersion})
		return err
	}
	if err := write("k", nil); err != nil {
		t.Fatalf("Write(k) = %v", err)
	}
	tests := []struct {
		name    string
		call    func() error
		want    codes.Code
		current string // the current_version an Aborted carries
		msg     string
	}{
		{"create only on missing", func() error { return write("new", proto.Uint64(0)) }, codes.OK, "", ""},
		{"create only on existing", func() error { return write("k", proto.Uint64(0)) }, codes.Aborted, "1", "version conflict: the record is at version 1"},
		{"stale version", func() error { return write("k", proto.Uint64(7)) }, codes.Aborted, "1", "version conflict: the record is at version 1"},
		{"version of a missing key", func() error { return write("missing", proto.Uint64(3)) }, codes.Aborted, "0", "version conflict: the record does not exist"},
		{"matching version", func() error { return write("k", proto.Uint64(1)) }, codes.OK, "", ""},
		{"delete at a stale version", func() error { return del("k", proto.Uint64(1)) }, codes.Aborted, "2", "version conflict: the record is at version 2"},
		{"delete at the current version", func() error { return del("k", proto.Uint64(2)) }, codes.OK, "", ""},
		{"delete of a missing key at a version", func() error { return del("k", proto.Uint64(2)) }, codes.NotFound, "",
			`no record under key "k" in table "default" of database "tenant-a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := status.Code(err); got != tt.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.want)
			}
			if got := status.Convert(err).Message(); got != tt.msg {
				t.Errorf("message = %q, want %q", got, tt.msg)
			}
			if tt.want != codes.Aborted {
				return
			}
			info := errorInfo(err)
			if info.GetReason() != store.ReasonVersionMismatch || info.GetMetadata()["current_version"] != tt.current {
				t.Errorf("ErrorInfo = %v, want reason %s and current_version %s", info, store.ReasonVersionMismatch, tt.current)
			}
		})
	}
}

// errorInfo returns the ErrorInfo detail of err, or nil.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// badFields returns the fields a BadRequest detail of err names.
func badFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestValidation(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	ctx := t.Context()
	rec := func(key string, value []byte, md map[string]string) *storev1.WriteRequest {
		return &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value, Metadata: md}}
	}
	pairs := func(n, valueBytes int) map[string]string {
		md := make(map[string]string, n)
		for i := range n {
			k := fmt.Sprintf("k%02d", i)
			md[k] = strings.Repeat("v", valueBytes-len(k))
		}
		return md
	}
	past := timestamppb.New(e.clock.Now().Add(-time.Second))
	tests := []struct {
		name  string
		write *storev1.WriteRequest
		read  *storev1.ReadRequest
		list  *storev1.ListRequest
		field string // "" means the call must succeed
	}{
		{name: "no record", write: &storev1.WriteRequest{}, field: "record"},
		{name: "empty key", write: rec("", nil, nil), field: "record.key"},
		{name: "key of 512 bytes", write: rec(strings.Repeat("k", 510)+"é", nil, nil)},
		{name: "key of 513 bytes", write: rec(strings.Repeat("k", 513), nil, nil), field: "record.key"},
		{name: "key with NUL", write: rec("a\x00b", nil, nil), field: "record.key"},
		{name: "value of 1 MiB", write: rec("big", make([]byte, 1<<20), nil)},
		{name: "value of 1 MiB and a byte", write: rec("big", make([]byte, 1<<20+1), nil), field: "record.value"},
		{name: "32 metadata pairs", write: rec("md", nil, pairs(32, 10))},
		{name: "33 metadata pairs", write: rec("md", nil, pairs(33, 10)), field: "record.metadata"},
		{name: "4 KiB of metadata", write: rec("md", nil, pairs(16, 256))},
		{name: "4 KiB and a byte of metadata", write: rec("md", nil, map[string]string{"k": strings.Repeat("v", 4096)}), field: "record.metadata"},
		{name: "empty metadata key", write: rec("md", nil, map[string]string{"": "v"}), field: "record.metadata"},
		{name: "ttl and expires_at", write: &storev1.WriteRequest{Record: &storev1.Record{Key: "t"}, Ttl: durationpb.New(time.Second), ExpiresAt: timestamppb.New(e.clock.Now().Add(time.Hour))}, field: "ttl"},
		{name: "negative ttl", write: &storev1.WriteRequest{Record: &storev1.Record{Key: "t"}, Ttl: durationpb.New(-time.Second)}, field: "ttl"},
		{name: "ttl of a thousand years", write: &storev1.WriteRequest{Record: &storev1.Record{Key: "t"}, Ttl: &durationpb.Duration{Seconds: 1000 * 365 * 86400}}, field: "ttl"},
		{name: "expiry in the past", write: &storev1.WriteRequest{Record: &storev1.Record{Key: "t"}, ExpiresAt: past}, field: "expires_at"},
		{name: "upper-case database", write: &storev1.WriteRequest{Database: "Tenant-A", Record: &storev1.Record{Key: "k"}}, field: "database"},
		{name: "bare underscore database", write: &storev1.WriteRequest{Database: "_", Record: &storev1.Record{Key: "k"}}, field: "database"},
		{name: "table of 63 characters", write: &storev1.WriteRequest{Table: strings.Repeat("t", 63), Record: &storev1.Record{Key: "k"}}},
		{name: "table of 64 characters", write: &storev1.WriteRequest{Table: strings.Repeat("t", 64), Record: &storev1.Record{Key: "k"}}, field: "table"},
		{name: "table with a space", write: &storev1.WriteRequest{Table: "a b", Record: &storev1.Record{Key: "k"}}, field: "table"},
		{name: "read limit 1000", read: &storev1.ReadRequest{Prefix: true, Limit: 1000}},
		{name: "read limit 1001", read: &storev1.ReadRequest{Prefix: true, Limit: 1001}, field: "limit"},
		{name: "read empty key", read: &storev1.ReadRequest{}, field: "key"},
		{name: "read prefix and suffix", read: &storev1.ReadRequest{Key: "a", Prefix: true, Suffix: true}, field: "suffix"},
		{name: "read offset and page token", read: &storev1.ReadRequest{Prefix: true, Offset: 1, PageToken: "x"}, field: "offset"},
		{name: "read bad page token", read: &storev1.ReadRequest{Prefix: true, PageToken: "not-a-token"}, field: "page_token"},
		{name: "read unknown order", read: &storev1.ReadRequest{Prefix: true, Order: 7}, field: "order"},
		{name: "read prefix of 513 bytes", read: &storev1.ReadRequest{Key: strings.Repeat("k", 513), Prefix: true}, field: "key"},
		{name: "list limit 10000", list: &storev1.ListRequest{Limit: 10000}},
		{name: "list limit 10001", list: &storev1.ListRequest{Limit: 10001}, field: "limit"},
		{name: "list prefix with NUL", list: &storev1.ListRequest{Prefix: "a\x00"}, field: "prefix"},
		{name: "list bad table", list: &storev1.ListRequest{Table: "-t"}, field: "table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			switch {
			case tt.write != nil:
				_, err = c.Write(ctx, tt.write)
			case tt.read != nil:
				_, err = c.Read(ctx, tt.read)
			default:
				_, err = c.List(ctx, tt.list)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatalf("call = %v, want nil", err)
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || !slices.Contains(badFields(err), tt.field) {
				t.Fatalf("call = %v with fields %v, want InvalidArgument naming %s", err, badFields(err), tt.field)
			}
		})
	}
	// A bad name is told in words, not as the pattern it fails.
	_, err := c.Write(ctx, &storev1.WriteRequest{Table: "Bad Table", Record: &storev1.Record{Key: "k"}})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, `"Bad Table" must be 1 to 63 lower-case letters, digits, dashes or underscores, starting with a letter or a digit`) {
		t.Errorf("Write(table \"Bad Table\") = %q, want the rule in words", msg)
	}
	// Nothing rejected was written: only the accepted writes are there.
	keys, err := c.List(ctx, &storev1.ListRequest{})
	if err != nil || !cmp.Equal(keys.GetKeys(), []string{"big", strings.Repeat("k", 510) + "é", "md"}) {
		t.Errorf("List() after the validation cases = %v, %v, want [big k…é md]", keys.GetKeys(), err)
	}
}

func TestQuota(t *testing.T) {
	e := start(t, 100)
	c := e.user(t, "tenant-a", "developer")
	ctx := t.Context()
	write := func(c storev1.StoreServiceClient, db, key string, size int) error {
		_, err := c.Write(ctx, &storev1.WriteRequest{Database: db, Record: &storev1.Record{Key: key, Value: make([]byte, size-len(key))}})
		return err
	}
	if err := write(c, "", "a", 60); err != nil {
		t.Fatalf("Write(60 bytes) = %v", err)
	}
	err := write(c, "", "b", 41)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("Write(41 bytes) at 60 of 100 = %v, want ResourceExhausted", err)
	}
	if err := write(c, "", "b", 40); err != nil {
		t.Errorf("Write(40 bytes) at 60 of 100 = %v, want nil", err)
	}
	if err := write(e.user(t, "tenant-b", "developer"), "", "a", 100); err != nil {
		t.Errorf("Write(100 bytes) in another tenant = %v, want nil: quotas are per tenant", err)
	}
	if err := write(e.core(t, "config"), "_config", "a", 1000); err != nil {
		t.Errorf("Write(1000 bytes) to a system database = %v, want nil: the platform is not capped", err)
	}
}

// writePaged writes p/00 … p/24 and q, and returns the p/ keys in order.
func writePaged(t *testing.T, c storev1.StoreServiceClient) []string {
	t.Helper()
	var keys []string
	for i := range 25 {
		keys = append(keys, fmt.Sprintf("p/%02d", i))
	}
	for _, key := range append(slices.Clone(keys), "q") {
		if _, err := c.Write(t.Context(), &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: []byte(key)}}); err != nil {
			t.Fatalf("Write(%s) = %v", key, err)
		}
	}
	return keys
}

func TestPaging(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	keys := writePaged(t, c)
	for _, order := range []storev1.Order{storev1.Order_ORDER_ASC, storev1.Order_ORDER_DESC} {
		t.Run(order.String(), func(t *testing.T) {
			want := keys
			if order == storev1.Order_ORDER_DESC {
				want = reversed(keys)
			}
			read := pageAll(t, func(tok string) ([]string, string, error) {
				resp, err := c.Read(t.Context(), &storev1.ReadRequest{Key: "p/", Prefix: true, Limit: 10, Order: order, PageToken: tok})
				return keysOf(resp.GetRecords()), resp.GetNextPageToken(), err
			})
			listed := pageAll(t, func(tok string) ([]string, string, error) {
				resp, err := c.List(t.Context(), &storev1.ListRequest{Prefix: "p/", Limit: 7, Order: order, PageToken: tok})
				return resp.GetKeys(), resp.GetNextPageToken(), err
			})
			if diff := cmp.Diff(want, read); diff != "" {
				t.Errorf("paged Read mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, listed); diff != "" {
				t.Errorf("paged List mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// pageAll calls page with each next page token until there is none, and
// returns the keys of all pages.
func pageAll(t *testing.T, page func(token string) ([]string, string, error)) []string {
	t.Helper()
	var all []string
	tok := ""
	for pages := 1; ; pages++ {
		if pages > 10 {
			t.Fatal("paging did not end after 10 pages")
		}
		keys, next, err := page(tok)
		if err != nil {
			t.Fatalf("page %d = %v", pages, err)
		}
		all = append(all, keys...)
		if tok = next; tok == "" {
			return all
		}
	}
}

func TestPageTokenBoundToSelection(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	ctx := t.Context()
	writePaged(t, c)
	first, err := c.Read(ctx, &storev1.ReadRequest{Key: "p/", Prefix: true, Limit: 5})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("Read(first page) = %v, %v, want a page token", first, err)
	}
	tok := first.GetNextPageToken()
	misuses := []struct {
		name string
		call func() error
	}{
		{"another prefix", func() error {
			_, err := c.Read(ctx, &storev1.ReadRequest{Key: "p", Prefix: true, PageToken: tok})
			return err
		}},
		{"another order", func() error {
			_, err := c.Read(ctx, &storev1.ReadRequest{Key: "p/", Prefix: true, PageToken: tok, Order: storev1.Order_ORDER_DESC})
			return err
		}},
		{"another table", func() error {
			_, err := c.Read(ctx, &storev1.ReadRequest{Table: "other", Key: "p/", Prefix: true, PageToken: tok})
			return err
		}},
		{"List", func() error {
			_, err := c.List(ctx, &storev1.ListRequest{Prefix: "p/", PageToken: tok})
			return err
		}},
	}
	for _, m := range misuses {
		t.Run(m.name, func(t *testing.T) {
			if err := m.call(); status.Code(err) != codes.InvalidArgument || !slices.Contains(badFields(err), "page_token") {
				t.Errorf("token reused = %v, want InvalidArgument on page_token", err)
			}
		})
	}
}

func TestReadOffset(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	writePaged(t, c)
	resp, err := c.Read(t.Context(), &storev1.ReadRequest{Key: "p/", Prefix: true, Offset: 20, Limit: 3})
	if err != nil {
		t.Fatalf("Read(offset 20) = %v", err)
	}
	if got := keysOf(resp.GetRecords()); !cmp.Equal(got, []string{"p/20", "p/21", "p/22"}) || resp.GetNextPageToken() == "" {
		t.Errorf("Read(offset 20, limit 3) = %v, token %q, want [p/20 p/21 p/22] and a token", got, resp.GetNextPageToken())
	}
}

// TestLargePages reads values too large for one response and gets them over
// several pages.
func TestLargePages(t *testing.T) {
	e := start(t, 0)
	c := e.user(t, "tenant-a", "developer")
	ctx := t.Context()
	for i := range 5 {
		value := bytes.Repeat([]byte{byte(i)}, 1<<20)
		if _, err := c.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: fmt.Sprint(i), Value: value}}); err != nil {
			t.Fatalf("Write(%d) = %v", i, err)
		}
	}
	var got []string
	req := &storev1.ReadRequest{Prefix: true}
	for pages := 1; ; pages++ {
		resp, err := c.Read(ctx, req)
		if err != nil {
			t.Fatalf("Read(page %d) = %v", pages, err)
		}
		if n := len(resp.GetRecords()); n == 0 || n > 3 {
			t.Fatalf("Read(page %d) returned %d records of 1 MiB, want 1 to 3", pages, n)
		}
		got = append(got, keysOf(resp.GetRecords())...)
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if !cmp.Equal(got, []string{"0", "1", "2", "3", "4"}) {
		t.Errorf("paged Read of 1 MiB values = %v, want [0 1 2 3 4]", got)
	}
}

// TestInternalErrors checks that a backend failure reaches the client only
// as a bare Internal, and the log in full.
func TestInternalErrors(t *testing.T) {
	clock := storetest.NewClock()
	e := startOn(t, failing{memory.New(clock.Now)}, clock, 0)
	c := e.user(t, "tenant-a", "developer")
	_, err := c.Read(t.Context(), &storev1.ReadRequest{Key: "k"})
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "10.0.0.7") {
		t.Errorf("Read() on a failing backend = %v, want Internal without the detail", err)
	}
	if !strings.Contains(e.logs.String(), "10.0.0.7") {
		t.Errorf("log lacks the backend's error:\n%s", e.logs.String())
	}
}

// failing is a backend whose reads fail with a message that must not leak.
type failing struct{ store.Backend }

// Get implements store.Backend.
func (failing) Get(context.Context, store.Table, string) (store.Record, error) {
	return store.Record{}, errors.New("dial tcp 10.0.0.7:26257: connection refused")
}

func TestUnauthenticated(t *testing.T) {
	e := start(t, 0)
	c := e.dial(t, "micro", "proxy", grpc.WithPerRPCCredentials(identity.BearerCredentials("not-a-token")))
	if _, err := c.Read(t.Context(), &storev1.ReadRequest{Key: "k"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Read() with a forged token = %v, want Unauthenticated", err)
	}
}

// keysOf returns the keys of records.
func keysOf(recs []*storev1.Record) []string {
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.GetKey())
	}
	return keys
}

// reversed returns a reversed copy of s.
func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
