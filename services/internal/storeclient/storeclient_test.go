package storeclient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/storeclient"
	"m3o.dev/services/store"
	"m3o.dev/services/store/memory"
)

// direct calls a real store service in process, as the core service
// micro/auth, so that every answer is the store's own.
type direct struct{ svc *store.Service }

func (d direct) Read(ctx context.Context, in *storev1.ReadRequest, _ ...grpc.CallOption) (*storev1.ReadResponse, error) {
	return d.svc.Read(asAuth(ctx), in)
}

func (d direct) Write(ctx context.Context, in *storev1.WriteRequest, _ ...grpc.CallOption) (*storev1.WriteResponse, error) {
	return d.svc.Write(asAuth(ctx), in)
}

func (d direct) Delete(ctx context.Context, in *storev1.DeleteRequest, _ ...grpc.CallOption) (*storev1.DeleteResponse, error) {
	return d.svc.Delete(asAuth(ctx), in)
}

func (d direct) List(ctx context.Context, in *storev1.ListRequest, _ ...grpc.CallOption) (*storev1.ListResponse, error) {
	return d.svc.List(asAuth(ctx), in)
}

func asAuth(ctx context.Context) context.Context {
	return identity.NewContext(ctx, identity.Caller{Namespace: "micro", Service: "auth", Subject: "auth"})
}

func newClient(t *testing.T) *storeclient.Client {
	t.Helper()
	svc := store.New(memory.New(nil), nil, store.Options{})
	return storeclient.New(direct{svc}, "_auth")
}

type doc struct{ N int }

func TestPutGetDelete(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	if _, err := c.Get(ctx, "t", "k"); !errors.Is(err, storeclient.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	v1, err := c.PutJSON(ctx, "t", "k", doc{1}, storeclient.Create(0))
	if err != nil {
		t.Fatalf("PutJSON(create) = %v", err)
	}
	_, err = c.PutJSON(ctx, "t", "k", doc{2}, storeclient.Create(0))
	if !errors.Is(err, storeclient.ErrAlreadyExists) || !errors.Is(err, storeclient.ErrConflict) {
		t.Errorf("PutJSON(create existing) = %v, want ErrAlreadyExists and ErrConflict", err)
	}
	if _, err := c.PutJSON(ctx, "t", "k", doc{3}, storeclient.At(v1+1, 0)); !errors.Is(err, storeclient.ErrConflict) || errors.Is(err, storeclient.ErrAlreadyExists) {
		t.Errorf("PutJSON(stale version) = %v, want ErrConflict only", err)
	}
	var got doc
	if v, err := c.GetJSON(ctx, "t", "k", &got); err != nil || v != v1 || got.N != 1 {
		t.Errorf("GetJSON() = %v, %d, %v, want {1}, %d, nil", got, v, err, v1)
	}
	if err := c.Delete(ctx, "t", "k", nil); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if err := c.Delete(ctx, "t", "k", nil); !errors.Is(err, storeclient.ErrNotFound) {
		t.Errorf("Delete(missing) = %v, want ErrNotFound", err)
	}
}

func TestRecordsPagesThroughEverything(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	for i := range 25 {
		if _, err := c.PutJSON(ctx, "t", fmt.Sprintf("a/%02d", i), doc{i}, storeclient.WriteOptions{}); err != nil {
			t.Fatalf("PutJSON(%d) = %v", i, err)
		}
	}
	if _, err := c.PutJSON(ctx, "t", "b/0", doc{}, storeclient.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for r, err := range c.Records(ctx, "t", storeclient.ScanOptions{Prefix: "a/", Limit: 4, Descending: true}) {
		if err != nil {
			t.Fatalf("Records() error = %v", err)
		}
		keys = append(keys, r.Key)
	}
	if len(keys) != 25 || keys[0] != "a/24" || keys[24] != "a/00" {
		t.Errorf("Records(a/, desc, pages of 4) = %d keys from %v, want 25 from a/24 down to a/00", len(keys), keys)
	}
}

// TestKeysPage lists one page of keys at a time, in either order, with the
// token of the next page.
func TestKeysPage(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1"} {
		if _, err := c.Put(ctx, "t", storeclient.Record{Key: k, Value: []byte("v")}, storeclient.WriteOptions{}); err != nil {
			t.Fatalf("Put(%s) = %v", k, err)
		}
	}
	keys, next, err := c.Keys(ctx, "t", storeclient.ScanOptions{Prefix: "a/", Limit: 2})
	if err != nil || !slices.Equal(keys, []string{"a/1", "a/2"}) || next == "" {
		t.Fatalf("Keys(a/, 2) = %v, next %q, %v; want [a/1 a/2] and a next page", keys, next, err)
	}
	keys, next, err = c.Keys(ctx, "t", storeclient.ScanOptions{Prefix: "a/", Limit: 2, PageToken: next})
	if err != nil || !slices.Equal(keys, []string{"a/3"}) || next != "" {
		t.Errorf("Keys(a/, 2), second page = %v, next %q, %v; want [a/3] and no next page", keys, next, err)
	}
	keys, _, err = c.Keys(ctx, "t", storeclient.ScanOptions{Prefix: "a/", Descending: true})
	if err != nil || !slices.Equal(keys, []string{"a/3", "a/2", "a/1"}) {
		t.Errorf("Keys(a/, descending) = %v, %v; want [a/3 a/2 a/1]", keys, err)
	}
}

// TestUpdateLosesNothing runs many compare-and-set increments of one record
// at once: each must land exactly once.
func TestUpdateLosesNothing(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	const writers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- storeclient.Update(ctx, func() error { return increment(ctx, c) })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Update() = %v", err)
		}
	}
	var got doc
	if _, err := c.GetJSON(ctx, "t", "counter", &got); err != nil || got.N != writers*each {
		t.Errorf("counter = %d, %v, want %d", got.N, err, writers*each)
	}
}

func increment(ctx context.Context, c *storeclient.Client) error {
	var d doc
	v, err := c.GetJSON(ctx, "t", "counter", &d)
	if errors.Is(err, storeclient.ErrNotFound) {
		_, err = c.PutJSON(ctx, "t", "counter", doc{1}, storeclient.Create(0))
		return err
	}
	if err != nil {
		return err
	}
	_, err = c.PutJSON(ctx, "t", "counter", doc{d.N + 1}, storeclient.At(v, 0))
	return err
}

func TestUpdateStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := storeclient.Update(ctx, func() error {
		calls++
		if calls == 3 {
			cancel()
		}
		return fmt.Errorf("write: %w", storeclient.ErrConflict)
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("Update(cancelled on 3rd conflict) = %v after %d calls, want context.Canceled after 3", err, calls)
	}
}

// failing answers every call with one status.
type failing struct{ code codes.Code }

func (f failing) Read(context.Context, *storev1.ReadRequest, ...grpc.CallOption) (*storev1.ReadResponse, error) {
	return nil, status.Error(f.code, "connection refused to 10.0.0.7:8083")
}

func (f failing) Write(context.Context, *storev1.WriteRequest, ...grpc.CallOption) (*storev1.WriteResponse, error) {
	return nil, status.Error(f.code, "x")
}

func (f failing) Delete(context.Context, *storev1.DeleteRequest, ...grpc.CallOption) (*storev1.DeleteResponse, error) {
	return nil, status.Error(f.code, "x")
}

func (f failing) List(context.Context, *storev1.ListRequest, ...grpc.CallOption) (*storev1.ListResponse, error) {
	return nil, status.Error(f.code, "x")
}

func TestErrorsMeanTheSameToEveryCaller(t *testing.T) {
	tests := []struct {
		code codes.Code
		want error
	}{
		{codes.Unavailable, storeclient.ErrUnavailable},
		{codes.DeadlineExceeded, storeclient.ErrUnavailable},
		{codes.NotFound, storeclient.ErrNotFound},
		{codes.Aborted, storeclient.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			_, err := storeclient.New(failing{tt.code}, "_auth").Get(t.Context(), "t", "k")
			if !errors.Is(err, tt.want) {
				t.Errorf("Get() with store answering %v = %v, want %v", tt.code, err, tt.want)
			}
		})
	}
	_, err := storeclient.New(failing{codes.Internal}, "_auth").Get(t.Context(), "t", "k")
	for _, known := range []error{storeclient.ErrUnavailable, storeclient.ErrNotFound, storeclient.ErrConflict} {
		if errors.Is(err, known) {
			t.Errorf("Get() with store answering Internal = %v, want none of the known errors", err)
		}
	}
	if _, ok := status.FromError(err); ok {
		t.Errorf("Get() with store answering Internal = %v, a status: the store's status must not pass through", err)
	}
}
