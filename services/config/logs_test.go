package config_test

import (
	"strings"
	"testing"

	configv1 "m3o.dev/proto/m3o/config/v1"
)

// TestLogsNeverShowSecrets drives every RPC that touches a secret, at debug
// level, including failures, and checks that the plaintext never reaches the
// service's logs while the changes themselves do.
func TestLogsNeverShowSecrets(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	stream, err := u.client.Watch(u.ctx, &configv1.WatchRequest{Path: "db"})
	if err != nil {
		t.Fatalf("Watch(db) = %v", err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatalf("Header() = %v", err)
	}
	mustSetSecret(t, u, "db.password", `"`+plaintext+`"`)
	mustSetSecret(t, u, "db", `{"token":"`+plaintext+`"}`)
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Recv() = %v", err)
	}
	mustReveal(t, u, "db.password")
	mustGet(t, u, "")
	if _, err := u.client.History(u.ctx, &configv1.HistoryRequest{}); err != nil {
		t.Fatalf("History() = %v", err)
	}
	if _, err := u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: 1}); err != nil {
		t.Fatalf("Rollback(1) = %v", err)
	}
	// Refused and failed calls log too.
	u.client.Set(u.ctx, &configv1.SetRequest{Path: "db..x", Value: plaintext, Secret: true})
	u.client.Set(u.ctx, &configv1.SetRequest{Path: "x", Value: `{"$secret":"` + plaintext + `"}`, Secret: true})
	u.client.Get(u.ctx, &configv1.GetRequest{Namespace: "tenant-b", Path: "db", Secret: true})
	e.stopStore()
	for {
		// The changes above may still be queued; the stream ends after them.
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
	u.client.Set(u.ctx, &configv1.SetRequest{Path: "db.password", Value: plaintext, Secret: true})

	logs := e.logs.String()
	if strings.Contains(logs, plaintext) {
		t.Errorf("logs contain the secret:\n%s", logs)
	}
	for _, want := range []string{"config changed", "db.password", "config unavailable"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q, so the test saw less than it should:\n%s", want, logs)
		}
	}
}
