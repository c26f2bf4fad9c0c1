package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// setChange is a pending change that sets path to v, by author.
func setChange(ctx context.Context, t *testing.T, path, author string, v any) *pendingChange {
	t.Helper()
	p, err := ParsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	return &pendingChange{ctx: ctx, t: target{ns: "ns", path: p, author: author}, action: ActionSet, done: make(chan changed, 1),
		edit: func(cur revision) (map[string]any, []string, error) {
			put(cur.Data, p, v)
			return cur.Data, []string{path}, nil
		}}
}

// TestApplyMakesOneVersionPerChange applies a round in which two changes
// fail: each other change makes its own version, on top of the one before,
// and no later edit reaches into an earlier version.
func TestApplyMakesOneVersionPerChange(t *testing.T) {
	s := &Service{now: time.Now}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	missing := setChange(t.Context(), t, "x", "carol", nil)
	missing.edit = func(revision) (map[string]any, []string, error) { return nil, nil, ErrNotFound }
	batch := []*pendingChange{
		setChange(t.Context(), t, "b", "alice", map[string]any{"c": 1}),
		missing,
		setChange(t.Context(), t, "huge", "dave", strings.Repeat("x", MaxDocumentBytes)),
		setChange(t.Context(), t, "b.c", "bob", 2),
		setChange(gone, t, "late", "erin", 3),
	}
	made, results := s.apply(head{version: 7, record: 3, encoded: []byte(`{"a":1}`)}, batch)
	if len(made) != 2 {
		t.Fatalf("apply() made %d versions, want 2", len(made))
	}
	if got, want := string(made[0].data), `{"a":1,"b":{"c":1}}`; got != want {
		t.Errorf("version 8 = %s, want %s", got, want)
	}
	if got, want := string(made[1].data), `{"a":1,"b":{"c":2}}`; got != want {
		t.Errorf("version 9 = %s, want %s", got, want)
	}
	if made[0].rev.Version != 8 || made[0].rev.Author != "alice" || made[1].rev.Version != 9 || made[1].rev.Author != "bob" {
		t.Errorf("versions made = %+v, %+v; want 8 by alice, 9 by bob", made[0].rev, made[1].rev)
	}
	if c, _ := lookup(made[0].rev.Data, Path{"b", "c"}); fmt.Sprint(c) != "1" {
		t.Errorf("version 8's b.c = %v after version 9 changed it, want 1", c)
	}
	wantVersions := []uint64{8, 0, 0, 9, 0}
	for i, r := range results {
		if r.version != wantVersions[i] || (r.err == nil) != (wantVersions[i] != 0) {
			t.Errorf("change %d: version %d, error %v; want version %d", i, r.version, r.err, wantVersions[i])
		}
	}
	if !errors.Is(results[1].err, ErrNotFound) || !errors.Is(results[4].err, context.Canceled) {
		t.Errorf("errors = %v, %v; want ErrNotFound, context.Canceled", results[1].err, results[4].err)
	}
	if !strings.Contains(fmt.Sprint(results[2].err), "over the limit") {
		t.Errorf("error of the change over the size limit = %v", results[2].err)
	}
}

// TestRoundLen checks which waiting changes a round takes: a rollback
// alone, the changes before a rollback, and never more than the history
// keeps.
func TestRoundLen(t *testing.T) {
	change := func(action string) *pendingChange { return &pendingChange{action: action} }
	many := make([]*pendingChange, HistoryLength+5)
	for i := range many {
		many[i] = change(ActionSet)
	}
	for _, tc := range []struct {
		name string
		q    []*pendingChange
		want int
	}{
		{"sets and deletes", []*pendingChange{change(ActionSet), change(ActionDelete), change(ActionSet)}, 3},
		{"rollback first", []*pendingChange{change(ActionRollback), change(ActionSet)}, 1},
		{"rollback later", []*pendingChange{change(ActionSet), change(ActionDelete), change(ActionRollback), change(ActionSet)}, 2},
		{"more than the history keeps", many, HistoryLength},
	} {
		if got := roundLen(tc.q); got != tc.want {
			t.Errorf("%s: roundLen() = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestRoundsTakeWhatWaits checks that the first change of a namespace
// starts its writer and later ones join it, that a round takes what waits,
// and that nothing is kept once the writer stops.
func TestRoundsTakeWhatWaits(t *testing.T) {
	var r rounds
	a := []*pendingChange{setChange(t.Context(), t, "a", "x", 1), setChange(t.Context(), t, "b", "x", 2), setChange(t.Context(), t, "c", "x", 3)}
	if !r.add(a[0]) {
		t.Fatal("add(first change) = false, want true: it starts the writer")
	}
	if got := r.next("ns"); len(got) != 1 || got[0] != a[0] {
		t.Fatalf("next() = %d changes, want the first alone", len(got))
	}
	if r.add(a[1]) || r.add(a[2]) {
		t.Fatal("add() while the writer runs = true, want false")
	}
	if got := r.next("ns"); len(got) != 2 || got[0] != a[1] || got[1] != a[2] {
		t.Fatalf("next() = %d changes, want the two that waited, in order", len(got))
	}
	if got := r.next("ns"); got != nil {
		t.Fatalf("next() with none waiting = %d changes, want nil", len(got))
	}
	if len(r.waiting) != 0 {
		t.Errorf("rounds kept %d namespaces once the writer stopped", len(r.waiting))
	}
	if !r.add(setChange(t.Context(), t, "d", "x", 4)) {
		t.Error("add() after the writer stopped = false, want true")
	}
}
