package config_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"m3o.dev/pkg/mtls/mtlstest"
	storev1 "m3o.dev/proto/m3o/store/v1"

	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/statustest"
)

func TestHistory(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSet(t, u, "a.x", `1`)
	mustSet(t, u, "b", `2`)
	if _, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{Path: "a.x"}); err != nil {
		t.Fatalf("Delete(a.x) = %v", err)
	}
	resp, err := u.client.History(u.ctx, &configv1.HistoryRequest{})
	if err != nil {
		t.Fatalf("History() = %v", err)
	}
	type row struct {
		version       uint64
		action, paths string
		value         string
	}
	var got []row
	for _, c := range resp.GetChanges() {
		got = append(got, row{c.GetVersion(), c.GetAction(), fmt.Sprint(c.GetPaths()), c.GetValue()})
		if c.GetAuthor() == "" || c.GetTime() == nil {
			t.Errorf("History() version %d has author %q and time %v, want both", c.GetVersion(), c.GetAuthor(), c.GetTime())
		}
	}
	want := []row{
		{3, "delete", "[a.x]", `{"a":{},"b":2}`},
		{2, "set", "[b]", `{"a":{"x":1},"b":2}`},
		{1, "set", "[a.x]", `{"a":{"x":1}}`},
	}
	if !slices.Equal(got, want) {
		t.Errorf("History() = %v, want %v", got, want)
	}

	filtered, err := u.client.History(u.ctx, &configv1.HistoryRequest{Path: "a"})
	var versions []uint64
	for _, c := range filtered.GetChanges() {
		versions = append(versions, c.GetVersion())
	}
	if err != nil || !slices.Equal(versions, []uint64{3, 1}) {
		t.Errorf("History(a) = versions %v, %v, want [3 1]", versions, err)
	}
}

func TestRollback(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSet(t, u, "a", `1`)
	mustSetSecret(t, u, "s", `"`+plaintext+`"`)
	mustSet(t, u, "a", `{"b":2}`)
	mustSet(t, u, "c", `3`)

	resp, err := u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: 2})
	if err != nil || resp.GetVersion() != 5 {
		t.Fatalf("Rollback(2) = %v, %v, want version 5", resp, err)
	}
	if got := mustGet(t, u, ""); got != `{"a":1,"s":"[secret]"}` {
		t.Errorf("Get(whole) after Rollback(2) = %s, want version 2's document", got)
	}
	if got := mustReveal(t, u, "s"); got != `"`+plaintext+`"` {
		t.Errorf("Get(s, secret) after Rollback(2) = %s, want the secret back", got)
	}
	h, err := u.client.History(u.ctx, &configv1.HistoryRequest{})
	if err != nil || len(h.GetChanges()) != 5 {
		t.Fatalf("History() = %v, %v, want 5 changes", h, err)
	}
	latest := h.GetChanges()[0]
	if latest.GetAction() != config.ActionRollback || !slices.Equal(latest.GetPaths(), []string{"a", "c"}) {
		t.Errorf("History()[0] = %s %v, want rollback of [a c]", latest.GetAction(), latest.GetPaths())
	}
	for _, v := range []uint64{6, 100} {
		_, err := u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: v})
		statustest.Want(t, fmt.Sprintf("Rollback(%d)", v), err, codes.NotFound, fmt.Sprintf("version %d does not exist: the latest is 5", v))
	}
	other := e.account(t, "tenant-b", "bob")
	_, err = other.client.Rollback(other.ctx, &configv1.RollbackRequest{Version: 1})
	statustest.Want(t, "Rollback(1) before any set", err, codes.NotFound, "version 1 does not exist: nothing has been set yet")
}

// TestHistoryKeepsFifty makes more versions than are kept and checks that
// the oldest fall away from History and from Rollback.
func TestHistoryKeepsFifty(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	const total = config.HistoryLength + 5
	for i := 1; i <= total; i++ {
		mustSet(t, u, "n", fmt.Sprint(i))
	}
	h, err := u.client.History(u.ctx, &configv1.HistoryRequest{})
	if err != nil || len(h.GetChanges()) != config.HistoryLength {
		t.Fatalf("History() = %d changes, %v, want %d", len(h.GetChanges()), err, config.HistoryLength)
	}
	if first, last := h.GetChanges()[0].GetVersion(), h.GetChanges()[config.HistoryLength-1].GetVersion(); first != total || last != total-config.HistoryLength+1 {
		t.Errorf("History() = versions %d..%d, want %d..%d", first, last, total, total-config.HistoryLength+1)
	}
	oldest := uint64(total - config.HistoryLength)
	_, err = u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: oldest})
	statustest.Want(t, fmt.Sprintf("Rollback(%d), no longer kept", oldest), err, codes.NotFound,
		fmt.Sprintf("version %d is no longer kept: the history keeps versions %d to %d", oldest, oldest+1, total))
	if _, err := u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: oldest + 1}); err != nil {
		t.Errorf("Rollback(%d), the oldest kept = %v, want nil", oldest+1, err)
	}
	if got := mustGet(t, u, "n"); got != fmt.Sprint(oldest+1) {
		t.Errorf("Get(n) after Rollback(%d) = %s, want %d", oldest+1, got, oldest+1)
	}
}

// TestPruneClearsLateHistory checks that the store keeps the window's
// history records and no others: a record below the window, as a replica's
// history write leaves when it lands after a later round pruned its version,
// is cleared by the next change.
func TestPruneClearsLateHistory(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	store := e.storeClient(t, mtlstest.Bundle(t, e.ca, configID.Namespace, configID.Service))
	const total = config.HistoryLength + 3
	for i := 1; i <= total; i++ {
		mustSet(t, u, "n", fmt.Sprint(i))
	}
	if got, want := historyKeys(t, store, "tenant-a"), keptKeys("tenant-a", total); !slices.Equal(got, want) {
		t.Fatalf("history records after %d sets = %v, want the last %d, %v", total, got, config.HistoryLength, want)
	}
	late := historyRecordKey("tenant-a", 2)
	if _, err := store.Write(t.Context(), &storev1.WriteRequest{Database: config.Database, Table: "history", Record: &storev1.Record{Key: late, Value: []byte("{}")}}); err != nil {
		t.Fatalf("Write(%s) = %v", late, err)
	}
	mustSet(t, u, "n", "last")
	if got, want := historyKeys(t, store, "tenant-a"), keptKeys("tenant-a", total+1); !slices.Equal(got, want) {
		t.Errorf("history records after a late one and one more set = %v, want the last %d, %v", got, config.HistoryLength, want)
	}
}

// historyKeys lists the keys of ns's history records in the store.
func historyKeys(t *testing.T, store storev1.StoreServiceClient, ns string) []string {
	t.Helper()
	resp, err := store.List(t.Context(), &storev1.ListRequest{Database: config.Database, Table: "history", Prefix: ns + "/"})
	if err != nil {
		t.Fatalf("List(history) = %v", err)
	}
	return resp.GetKeys()
}

// keptKeys is the keys of the history records that ns's window keeps when
// its latest version is latest.
func keptKeys(ns string, latest uint64) []string {
	var keys []string
	for v := latest - config.HistoryLength + 1; v <= latest; v++ {
		keys = append(keys, historyRecordKey(ns, v))
	}
	return keys
}

// historyRecordKey is the key of version v's history record, as the
// service lays it out.
func historyRecordKey(ns string, v uint64) string {
	return fmt.Sprintf("%s/%020d", ns, v)
}
