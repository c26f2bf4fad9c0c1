package config_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/internal/statustest"
)

// TestWatch watches a path, sees changes under it and not elsewhere, and
// then, when the store goes away, sees the stream end with Unavailable
// rather than go silent.
func TestWatch(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSet(t, u, "db.host", `"h1"`)
	stream, err := u.client.Watch(u.ctx, &configv1.WatchRequest{Path: "db"})
	if err != nil {
		t.Fatalf("Watch(db) = %v", err)
	}
	// The headers arrive once the watch is in place.
	if _, err := stream.Header(); err != nil {
		t.Fatalf("Header() = %v", err)
	}
	v := mustSet(t, u, "db.port", `5432`)
	next := func(want string, version uint64) {
		t.Helper()
		resp, err := stream.Recv()
		if err != nil || resp.GetValue() != want || resp.GetVersion() != version || resp.GetTime() == nil {
			t.Fatalf("Recv() = %v, %v, want %s at version %d", resp, err, want, version)
		}
	}
	next(`{"host":"h1","port":5432}`, v)
	mustSet(t, u, "other", `1`)
	v = mustSetSecret(t, u, "db.password", `"`+plaintext+`"`)
	// The change elsewhere was not reported: this is the next one.
	next(`{"host":"h1","password":"[secret]","port":5432}`, v)
	v = mustSetSecret(t, u, "db.password", `"another secret"`)
	next(`{"host":"h1","password":"[secret]","port":5432}`, v)
	if _, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{Path: "db"}); err != nil {
		t.Fatalf("Delete(db) = %v", err)
	}
	next(`null`, v+1)

	e.stopStore()
	for {
		resp, err := stream.Recv()
		if err != nil {
			statustest.WantCode(t, "Recv() after the store stopped", err, codes.Unavailable)
			return
		}
		t.Errorf("Recv() after the store stopped = %v, want the stream to end", resp)
	}
}

func TestWatchSeesOtherReplicas(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	other := user{ctx: u.ctx, client: e.config(t, e.startConfig(t, e.ring, &syncBuffer{}), "micro", "proxy")}
	stream, err := u.client.Watch(u.ctx, &configv1.WatchRequest{Path: "k"})
	if err != nil {
		t.Fatalf("Watch(k) = %v", err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("Header() = %v", err)
	}
	v := mustSet(t, other, "k", `"through the other replica"`)
	resp, err := stream.Recv()
	if err != nil || resp.GetVersion() != v || resp.GetValue() != `"through the other replica"` {
		t.Errorf("Recv() = %v, %v, want the other replica's change at version %d", resp, err, v)
	}
}
