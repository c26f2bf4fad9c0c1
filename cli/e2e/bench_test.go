package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// benchReport is the part of `micro bench -o json` a script relies on.
type benchReport struct {
	Ops         *int                       `json:"ops"`
	Errors      *int                       `json:"errors"`
	Lost        *int                       `json:"lost"`
	Stale       *int                       `json:"stale"`
	Resurrected *int                       `json:"resurrected"`
	ByOp        map[string]json.RawMessage `json:"by_op"`
}

// TestBench runs a short `micro bench` through the proxy of a real server
// with the rate limit off, and requires that it did work and lost nothing.
// It asserts no timings: the figures depend on the machine.
func TestBench(t *testing.T) {
	p := newPlatform(t, "--rate-limit", "0")
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)

	out := p.must("bench", "--clients", "3", "--duration", "2s", "--keys", "4", "-o", "json")
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("micro bench -o json: stdout is not a report: %v\n%s", err, out)
	}
	if rep.Ops == nil || rep.Errors == nil || rep.Lost == nil || rep.Stale == nil || rep.Resurrected == nil || rep.ByOp == nil {
		t.Fatalf("micro bench -o json = %s, want ops, errors, lost, stale, resurrected and by_op", out)
	}
	if *rep.Ops == 0 {
		t.Errorf("micro bench: ops = 0, want some")
	}
	if *rep.Lost != 0 || *rep.Stale != 0 || *rep.Resurrected != 0 {
		t.Errorf("micro bench: lost %d, stale %d, resurrected %d, want 0 each", *rep.Lost, *rep.Stale, *rep.Resurrected)
	}
	for _, op := range []string{"store.read", "store.write", "store.delete", "store.list", "config.get", "config.set"} {
		if _, ok := rep.ByOp[op]; !ok {
			t.Errorf("micro bench: by_op has no %s: %s", op, out)
		}
	}
	if left := p.must("store", "list", "--table", "micro-bench"); strings.TrimSpace(left) != "KEY" {
		t.Errorf("after micro bench, table micro-bench holds:\n%s\nwant nothing: the run deletes what it wrote", left)
	}
	if cfg := p.must("config", "get"); strings.Contains(cfg, "micro-bench") {
		t.Errorf("after micro bench, the config is:\n%s\nwant no path of the run left, not even an empty one", cfg)
	}
}

// TestBenchRefusals checks that a bench asked for something impossible
// ends before it writes anything, with the usual exit codes.
func TestBenchRefusals(t *testing.T) {
	p := newPlatform(t)
	p.start()
	p.useTestEnv()
	p.exits(3, "bench", "--duration", "1s")
	login(t, p, "micro", "admin", adminPassword)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--clients", "0"}, 2, "--clients: must be from 1 to 1024, not 0."},
		{[]string{"--mix", "store,disk"}, 2, `--mix: unknown part "disk" of the mix: use store, config or call.`},
		{[]string{"--mix", "call"}, 2, "--mix call needs --service NAME: the service to call."},
		{[]string{"--service", "hello", "--mix", "store"}, 2, "--service needs call in --mix."},
		{[]string{"--service", "nothing-here", "--duration", "1s"}, 5, "Not found in env 'test'"},
	}
	for _, tt := range tests {
		r := p.exits(tt.code, append([]string{"bench"}, tt.args...)...)
		if !strings.Contains(r.stderr, tt.want) {
			t.Errorf("micro bench %s: stderr = %q, want it to contain %q", strings.Join(tt.args, " "), r.stderr, tt.want)
		}
	}
	if left := p.must("store", "list", "--table", "micro-bench"); strings.TrimSpace(left) != "KEY" {
		t.Errorf("after refused benches, table micro-bench holds:\n%s\nwant nothing", left)
	}
}

// TestBenchRateLimited runs a bench against a proxy whose rate limit is
// far below what the clients ask for: the refusals are counted and named,
// the note says how to lift the limit, and the read-back still completes.
func TestBenchRateLimited(t *testing.T) {
	p := newPlatform(t, "--rate-limit", "5", "--rate-burst", "5")
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)

	r := p.micro("", "bench", "--clients", "4", "--duration", "2s", "--keys", "2", "--mix", "store", "-o", "json")
	if r.code != 0 {
		t.Fatalf("micro bench = exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var rep struct {
		benchReport
		RateLimited  int            `json:"rate_limited"`
		ErrorsByCode map[string]int `json:"errors_by_code"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Lost == nil {
		t.Fatalf("micro bench -o json: stdout is not a report: %v\n%s", err, r.stdout)
	}
	if rep.RateLimited == 0 || rep.ErrorsByCode["ResourceExhausted"] < rep.RateLimited {
		t.Errorf("micro bench: rate_limited %d, errors_by_code %v, want refusals counted as ResourceExhausted", rep.RateLimited, rep.ErrorsByCode)
	}
	if !strings.Contains(r.stderr, "'micro server --rate-limit 0'") {
		t.Errorf("micro bench: stderr = %q, want a note on the rate limit and how to lift it", r.stderr)
	}
	if *rep.Lost != 0 || *rep.Stale != 0 || *rep.Resurrected != 0 {
		t.Errorf("micro bench: lost %d, stale %d, resurrected %d, want 0 each", *rep.Lost, *rep.Stale, *rep.Resurrected)
	}
}
