package config_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/config"
	"m3o.dev/services/internal/statustest"
)

// newRing returns a fresh keyring, failing the test on error.
func newRing(t *testing.T) *config.Keyring {
	t.Helper()
	ring, err := config.GenerateKeyring()
	if err != nil {
		t.Fatalf("GenerateKeyring() = %v", err)
	}
	return ring
}

// TestSetGet walks one namespace's document through sets and reads: dotted
// and escaped paths, deep merge, replacement and the string fallback.
func TestSetGet(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice", "developer")
	steps := []struct {
		name, path, value string
		get, want         string
	}{
		{"nested path creates objects", "db.user.name", `"ann"`, "db", `{"user":{"name":"ann"}}`},
		{"object merges deeply", "db", `{"user":{"role":"ro"},"host":"h"}`, "db", `{"host":"h","user":{"name":"ann","role":"ro"}}`},
		{"scalar replaces", "db.user", `7`, "db", `{"host":"h","user":7}`},
		{"object replaces a scalar", "db.user", `{"id":1}`, "db.user", `{"id":1}`},
		{"invalid JSON is a string", "db.dsn", `postgres://u@h/db?ssl=1`, "db.dsn", `"postgres://u@h/db?ssl=1"`},
		{"escaped dot is one key", `hosts.a\.example\.com`, `true`, "hosts", `{"a.example.com":true}`},
		{"escaped key reads back", `hosts.a\.example\.com`, `false`, `hosts.a\.example\.com`, `false`},
		{"digits are object keys", "list.0", `"x"`, "list", `{"0":"x"}`},
		{"arrays are whole values", "arr", `[1,{"a":2}]`, "arr", `[1,{"a":2}]`},
		{"big integers keep their digits", "n", `12345678901234567890`, "n", `12345678901234567890`},
		{"root merges an object", "", `{"top":1}`, "top", `1`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			mustSet(t, u, s.path, s.value)
			if got := mustGet(t, u, s.get); got != s.want {
				t.Errorf("Get(%q) = %s, want %s", s.get, got, s.want)
			}
		})
	}
}

func TestGetMissing(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	resp, err := u.client.Get(u.ctx, &configv1.GetRequest{})
	if err != nil || resp.GetValue() != "{}" || resp.GetVersion() != 0 {
		t.Errorf("Get(whole, never set) = %v, %v, want {} at version 0", resp, err)
	}
	mustSet(t, u, "a.b", `1`)
	for _, path := range []string{"missing", "a.c", "a.b.c", "a.b.0"} {
		t.Run(path, func(t *testing.T) {
			_, err := u.client.Get(u.ctx, &configv1.GetRequest{Path: path})
			statustest.Want(t, fmt.Sprintf("Get(%q)", path), err, codes.NotFound, fmt.Sprintf("path %q is not set", path))
		})
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	_, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{Path: "a"})
	statustest.WantCode(t, "Delete(a) on an empty document", err, codes.NotFound)

	mustSet(t, u, "", `{"a":{"b":{"c":1},"d":2},"e":3}`)
	resp, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{Path: "a.b"})
	if err != nil || resp.GetVersion() != 2 {
		t.Fatalf("Delete(a.b) = %v, %v, want version 2", resp, err)
	}
	if got := mustGet(t, u, ""); got != `{"a":{"d":2},"e":3}` {
		t.Errorf("Get(whole) after Delete(a.b) = %s, want the subtree gone", got)
	}
	for _, path := range []string{"a.b", "a.b.c", "x"} {
		_, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{Path: path})
		statustest.Want(t, fmt.Sprintf("Delete(%q)", path), err, codes.NotFound, fmt.Sprintf("path %q is not set, so there is nothing to delete", path))
	}
	if _, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{}); err != nil {
		t.Fatalf("Delete(whole) = %v, want nil", err)
	}
	if got := mustGet(t, u, ""); got != `{}` {
		t.Errorf("Get(whole) after Delete(whole) = %s, want {}", got)
	}
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSet(t, u, "keep", `1`)
	deep := strings.Repeat("a.", config.MaxPathSegments) + "a"
	tests := []struct {
		name  string
		req   *configv1.SetRequest
		field string
	}{
		{"empty segment", &configv1.SetRequest{Path: "a..b", Value: "1"}, "path"},
		{"trailing backslash", &configv1.SetRequest{Path: `a\`, Value: "1"}, "path"},
		{"bad escape", &configv1.SetRequest{Path: `a\b`, Value: "1"}, "path"},
		{"too deep", &configv1.SetRequest{Path: deep, Value: "1"}, "path"},
		{"too long", &configv1.SetRequest{Path: strings.Repeat("a", config.MaxPathBytes+1), Value: "1"}, "path"},
		{"reserved key in path", &configv1.SetRequest{Path: "a.$secret", Value: "1"}, "path"},
		{"reserved key in value", &configv1.SetRequest{Path: "a", Value: `{"b":{"$secret":1}}`}, "value"},
		{"whole document not an object", &configv1.SetRequest{Path: "", Value: `[1]`}, "value"},
		{"value over the limit", &configv1.SetRequest{Path: "big", Value: strings.Repeat("x", config.MaxDocumentBytes+1)}, "value"},
		{"document over the limit", &configv1.SetRequest{Path: "big", Value: strings.Repeat("x", config.MaxDocumentBytes-5)}, "value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := u.client.Set(u.ctx, tt.req)
			wantField(t, "Set("+tt.name+")", err, tt.field)
		})
	}
	_, err := u.client.Get(u.ctx, &configv1.GetRequest{Path: deep})
	wantField(t, "Get(too deep)", err, "path")
	_, err = u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: 0})
	wantField(t, "Rollback(0)", err, "version")
	resp, err := u.client.Get(u.ctx, &configv1.GetRequest{})
	if err != nil || resp.GetVersion() != 1 || resp.GetValue() != `{"keep":1}` {
		t.Errorf("Get(whole) after bad input = %v, %v, want version 1 unchanged", resp, err)
	}
}

// TestNestingCannotBrickTheNamespace sets values nested past what the
// service allows, the way an outside review once made a namespace's
// document unreadable, and one of more values than a document may hold:
// each is refused, and every RPC of the namespace keeps working, across a
// restart of the service too.
func TestNestingCannotBrickTheNamespace(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	mustSet(t, u, "keep", `1`)
	nested := func(levels int) string { return strings.Repeat(`{"a":`, levels) + "1" + strings.Repeat("}", levels) }
	path := strings.TrimSuffix(strings.Repeat("p.", config.MaxPathSegments), ".")
	for _, req := range []*configv1.SetRequest{
		{Path: "deep", Value: nested(config.MaxDepth)},
		{Path: path, Value: nested(9990)},
		{Path: "deep", Value: nested(config.MaxDepth - 2), Secret: true},
		{Path: "wide", Value: "[" + strings.Repeat("0,", config.MaxNodes) + "0]"},
	} {
		_, err := u.client.Set(u.ctx, req)
		wantField(t, fmt.Sprintf("Set(%d segments, %d bytes nested)", len(strings.Split(req.Path, ".")), len(req.Value)), err, "value")
		if req.Path == "wide" && !strings.Contains(err.Error(), "values, over the limit") {
			t.Errorf("Set(wide) = %v, want the limit on values named", err)
		}
	}
	mustSet(t, u, "ok", nested(config.MaxDepth-2))
	restarted := user{ctx: u.ctx, client: e.config(t, e.startConfig(t, e.ring, &syncBuffer{}), "micro", "proxy")}
	for _, c := range []user{u, restarted} {
		if _, err := c.client.Get(c.ctx, &configv1.GetRequest{}); err != nil {
			t.Errorf("Get(whole) after refused nesting = %v, want the document", err)
		}
		if _, err := c.client.History(c.ctx, &configv1.HistoryRequest{}); err != nil {
			t.Errorf("History() after refused nesting = %v", err)
		}
	}
	if _, err := u.client.Delete(u.ctx, &configv1.DeleteRequest{Path: "ok"}); err != nil {
		t.Errorf("Delete(ok) after refused nesting = %v", err)
	}
	if _, err := u.client.Rollback(u.ctx, &configv1.RollbackRequest{Version: 1}); err != nil {
		t.Errorf("Rollback(1) after refused nesting = %v", err)
	}
	if got := mustGet(t, u, "keep"); got != "1" {
		t.Errorf("Get(keep) after the rollback = %s, want 1", got)
	}
}

// TestDocumentAtTheLimit checks that the limit is inclusive: a document of
// exactly MaxDocumentBytes is stored and read back.
func TestDocumentAtTheLimit(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	// {"big":"xxx…"} is 10 bytes of framing around the string.
	value := strings.Repeat("x", config.MaxDocumentBytes-10)
	mustSet(t, u, "big", value)
	if got := mustGet(t, u, "big"); len(got) != len(value)+2 {
		t.Errorf("Get(big) = %d bytes, want %d", len(got), len(value)+2)
	}
	_, err := u.client.Set(u.ctx, &configv1.SetRequest{Path: "one", Value: "1"})
	wantField(t, "Set(one more key)", err, "value")
}

// TestConcurrentSets sets 50 distinct paths at once; compare-and-set with
// retries must keep every one of them.
func TestConcurrentSets(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	// A second replica over the same store races the first.
	other := user{ctx: u.ctx, client: e.config(t, e.startConfig(t, e.ring, &syncBuffer{}), "micro", "proxy")}
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		c := []user{u, other}[i%2]
		wg.Go(func() {
			_, errs[i] = c.client.Set(c.ctx, &configv1.SetRequest{Path: fmt.Sprintf("keys.k%02d", i), Value: fmt.Sprint(i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Set(keys.k%02d) = %v, want nil", i, err)
		}
	}
	resp, err := u.client.Get(u.ctx, &configv1.GetRequest{Path: "keys"})
	if err != nil || resp.GetVersion() != n {
		t.Fatalf("Get(keys) = %v, %v, want version %d", resp, err, n)
	}
	for i := range n {
		if want := fmt.Sprintf(`"k%02d":%d`, i, i); !strings.Contains(resp.GetValue(), want) {
			t.Errorf("Get(keys) = %s, missing %s", resp.GetValue(), want)
		}
	}
}

// TestSetsOfOneReplicaShareRounds sets many paths of one namespace at once
// through one replica. They wait for each other there instead of racing
// through the store's compare-and-set, so none loses a race and backs off;
// those that wait together are committed together, in fewer document writes
// than changes; and each still makes its own version, with its own history.
func TestSetsOfOneReplicaShareRounds(t *testing.T) {
	e := newEnv(t, newRing(t))
	u := e.account(t, "tenant-a", "alice")
	const n = 40
	var wg sync.WaitGroup
	errs := make([]error, n)
	versions := make([]uint64, n)
	for i := range n {
		wg.Go(func() {
			resp, err := u.client.Set(u.ctx, &configv1.SetRequest{Path: fmt.Sprintf("keys.k%02d", i), Value: fmt.Sprint(i)})
			errs[i], versions[i] = err, resp.GetVersion()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent sets: %v", err)
	}
	if got := e.storeConflicts.Load(); got != 0 {
		t.Errorf("%d sets of one replica lost a compare-and-set race, want 0", got)
	}
	if got := e.documentWrites.Load(); got >= n {
		t.Errorf("%d concurrent sets took %d document writes, want fewer", n, got)
	}
	if resp, err := u.client.Get(u.ctx, &configv1.GetRequest{Path: "keys"}); err != nil || resp.GetVersion() != n {
		t.Errorf("Get(keys) = %v, %v, want version %d", resp, err, n)
	}
	sorted, want := slices.Sorted(slices.Values(versions)), make([]uint64, n)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if !slices.Equal(sorted, want) {
		t.Errorf("versions the sets answered = %v, want 1 to %d, each once", sorted, n)
	}
	for i := range n {
		path := fmt.Sprintf("keys.k%02d", i)
		h, err := u.client.History(u.ctx, &configv1.HistoryRequest{Path: path})
		if err != nil || len(h.GetChanges()) != 1 || !slices.Equal(h.GetChanges()[0].GetPaths(), []string{path}) ||
			h.GetChanges()[0].GetVersion() != versions[i] {
			t.Errorf("History(%s) = %v, %v; want the one set of it, version %d", path, h, err, versions[i])
		}
	}
}
