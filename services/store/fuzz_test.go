package store_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"m3o.dev/pkg/identity"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// fuzzService returns a service on a memory backend holding a few records,
// and a context in which tenant-a calls it.
func fuzzService(f *testing.F) (*store.Service, context.Context) {
	svc := store.New(memory.New(nil), nil, store.Options{QuotaBytes: 1 << 20})
	ctx := identity.NewContext(context.Background(), identity.Caller{Namespace: "tenant-a", Subject: "acct", Roles: []string{"developer"}})
	for _, k := range []string{"a", "a/1", "b", "ключ"} {
		if _, err := svc.Write(ctx, &storev1.WriteRequest{Record: &storev1.Record{Key: k, Value: []byte(k)}}); err != nil {
			f.Fatalf("Write(%q) = %v", k, err)
		}
	}
	return svc, ctx
}

// wantPrecise fails unless err is nil or a code that says what was wrong:
// bad input must never come back as Internal or Unknown.
func wantPrecise(t *testing.T, call string, err error) {
	t.Helper()
	if c := status.Code(err); c == codes.Internal || c == codes.Unknown {
		t.Fatalf("%s = %v, want no Internal or Unknown error for bad input", call, err)
	}
}

// FuzzValidateRead feeds arbitrary names, keys and read options to Read and
// List, and checks the answers are precise and that a key accepted as valid
// really is one.
func FuzzValidateRead(f *testing.F) {
	svc, ctx := fuzzService(f)
	f.Add("", "", "a", false, false, uint32(0), uint32(0), "", int32(0))
	for _, name := range []string{"_", "__a", "_a", "a_", "-a", "a-b", "A", "é", "a b", strings.Repeat("a", 63), strings.Repeat("a", 64), "_" + strings.Repeat("a", 63)} {
		f.Add("", name, "a", false, false, uint32(0), uint32(0), "", int32(0))
	}
	f.Fuzz(func(t *testing.T, database, table, key string, prefix, suffix bool, limit, offset uint32, token string, order int32) {
		req := &storev1.ReadRequest{
			Database: database, Table: table, Key: key, Prefix: prefix, Suffix: suffix,
			Limit: limit, Offset: offset, PageToken: token, Order: storev1.Order(order),
		}
		resp, err := svc.Read(ctx, req)
		wantPrecise(t, "Read", err)
		if err == nil && !prefix && !suffix && (len(resp.GetRecords()) != 1 || resp.GetRecords()[0].GetKey() != key) {
			t.Fatalf("Read(%q) = %v, want exactly that record", key, resp)
		}
		_, err = svc.List(ctx, &storev1.ListRequest{
			Database: database, Table: table, Prefix: key, Suffix: token, Limit: limit * 10, PageToken: token, Order: storev1.Order(order),
		})
		wantPrecise(t, "List", err)

		if store.ValidateKey(key) == nil {
			if key == "" || len(key) > store.MaxKeyBytes || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
				t.Fatalf("ValidateKey(%q) = nil for a key outside the limits", key)
			}
		}
		if got, want := store.ValidateName(table) == nil, namePattern.MatchString(table); got != want {
			t.Fatalf("ValidateName(%q) accepts = %t, want %t as %s does", table, got, want, namePattern)
		}
	})
}

// FuzzValidateWrite feeds arbitrary records and expiries to Write and checks
// that each is either stored exactly or refused precisely.
func FuzzValidateWrite(f *testing.F) {
	svc, ctx := fuzzService(f)
	f.Add("k", []byte("v"), "mk", "mv", 0, int64(0), int32(0))
	f.Fuzz(func(t *testing.T, key string, value []byte, mdKey, mdValue string, pairs int, ttlSeconds int64, ttlNanos int32) {
		md := map[string]string{}
		for i := range min(max(pairs, 0), 40) {
			md[mdKey+strings.Repeat("+", i)] = mdValue
		}
		req := &storev1.WriteRequest{Record: &storev1.Record{Key: key, Value: value, Metadata: md}}
		if ttlSeconds != 0 || ttlNanos != 0 {
			req.Ttl = &durationpb.Duration{Seconds: ttlSeconds, Nanos: ttlNanos}
		}
		start := time.Now()
		_, err := svc.Write(ctx, req)
		wantPrecise(t, "Write", err)
		if err != nil {
			return
		}
		resp, err := svc.Read(ctx, &storev1.ReadRequest{Key: key})
		if status.Code(err) == codes.NotFound && req.Ttl.AsDuration() < time.Minute {
			return // a short TTL may run out between the write and the read
		}
		if err != nil || string(resp.GetRecords()[0].GetValue()) != string(value) {
			t.Fatalf("Read(%q) after Write = %v, %v, want the value written", key, resp, err)
		}
		if exp := resp.GetRecords()[0].GetExpiresAt(); req.Ttl != nil && !exp.AsTime().After(start) {
			t.Fatalf("Write(%q, ttl %v) stored expiry %v, not after the write began at %v", key, req.Ttl, exp.AsTime(), start)
		}
	})
}

// namePattern restates the name rule as the regular expression it is
// documented as, to check the hand-written matcher against.
var namePattern = regexp.MustCompile(`^_?[a-z0-9][a-z0-9_-]{0,62}$`)
