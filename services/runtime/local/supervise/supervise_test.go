package supervise_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/runtime/local/logs"
	"m3o.dev/services/runtime/local/sandbox"
	"m3o.dev/services/runtime/local/supervise"
)

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		b    supervise.Backoff
		want []time.Duration
	}{
		{supervise.Backoff{}, []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}},
		{supervise.Backoff{Initial: 3, Max: 10}, []time.Duration{3, 6, 10, 10}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.b), func(t *testing.T) {
			unit := time.Second
			if tt.b.Initial != 0 {
				unit = 1
			}
			for i, want := range tt.want {
				if got := tt.b.Delay(i + 1); got != want*unit {
					t.Errorf("Delay(%d) = %v, want %v", i+1, got, want*unit)
				}
			}
		})
	}
}

// fast is a backoff short enough for tests.
var fast = supervise.Backoff{Initial: 5 * time.Millisecond, Max: 40 * time.Millisecond, ResetAfter: time.Hour}

func TestCrashLoopEndsInErrorAndKeepsRestarting(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, `echo starting; echo failing >&2; exit 3`, supervise.Config{Backoff: fast})
	waitFor(t, s, "seventh start", func(st supervise.Status) bool { return st.Restarts >= 6 })
	waits := f.rec.waits()
	wantDelays := []time.Duration{5, 10, 20, 40, 40, 40}
	for i, want := range wantDelays {
		st := waits[i]
		wantState := supervise.Crashed
		if i+1 >= 5 {
			wantState = supervise.Error
		}
		if st.Delay != want*time.Millisecond || st.State != wantState || st.Crashes != i+1 || st.Restarts != i || st.LastExit != "exit status 3" {
			t.Errorf("exit %d: %+v, want state %s, delay %v, %d crashes, %d restarts, exit status 3", i+1, st, wantState, want*time.Millisecond, i+1, i)
		}
	}
	s.Stop()
	if st := s.Status(); st.State != supervise.Stopped || st.Pid != 0 {
		t.Fatalf("after Stop: %+v, want stopped", st)
	}
	// Each run's two streams reach the log through separate pipes, so
	// their order within a run is not fixed.
	lines, _ := f.log.Tail(100)
	seen := map[string]int{}
	for _, l := range lines {
		seen[string(l.Stream)+" "+l.Text]++
	}
	if seen["stdout starting"] < 6 || seen["stderr failing"] < 6 || len(seen) != 2 {
		t.Fatalf("log lines by stream and text = %v, want a stdout and a stderr line from each of at least 6 runs", seen)
	}
}

func TestHealthyRunResetsTheBackoff(t *testing.T) {
	f := newFixture(t)
	b := supervise.Backoff{Initial: 5 * time.Millisecond, Max: time.Second, ResetAfter: time.Second}
	// The third run stays up longer than ResetAfter; the others crash at once.
	s := f.start(t, `n=$(cat "$HOME/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$HOME/count"; [ $n -eq 3 ] && sleep 1.5; exit 1`, supervise.Config{Backoff: b})
	waitFor(t, s, "fifth start", func(st supervise.Status) bool { return st.Restarts >= 4 })
	var got []string
	for _, st := range f.rec.waits()[:4] {
		got = append(got, fmt.Sprintf("%d:%v", st.Crashes, st.Delay))
	}
	if want := "1:5ms 2:10ms 1:5ms 2:10ms"; strings.Join(got, " ") != want {
		t.Fatalf("crashes:delay after each exit = %s, want %s (reset after the healthy third run)", strings.Join(got, " "), want)
	}
}

func TestStopSendsSIGTERMThenSIGKILLToTheGroup(t *testing.T) {
	f := newFixture(t)
	home := filepath.Join(f.ns.Dir, "home", "inst-0")
	s := f.start(t, `trap 'echo got TERM >&2' TERM; sleep 1000 & echo $! > "$HOME/child"; echo up; while :; do sleep 0.05; done`,
		supervise.Config{Backoff: fast, Grace: 300 * time.Millisecond})
	waitFor(t, s, "running state", func(st supervise.Status) bool { return st.State == supervise.Running })
	child := waitPid(t, filepath.Join(home, "child"))
	s.Stop()
	st := s.Status()
	if st.State != supervise.Stopped || st.LastExit != "killed by signal 9 (killed)" {
		t.Fatalf("after Stop: %+v, want stopped, killed by SIGKILL after the grace period", st)
	}
	lines, _ := f.log.Tail(10)
	var sawTerm bool
	for _, l := range lines {
		sawTerm = sawTerm || l.Stream == logs.Stderr && l.Text == "got TERM"
	}
	if !sawTerm {
		t.Fatalf("log = %+v, want the script's SIGTERM trap line before the kill", lines)
	}
	waitGone(t, child)
}

func TestMemoryWatchdogKillsWithOOM(t *testing.T) {
	f := newFixture(t)
	spec := sandbox.Spec{Name: "hog-0", Path: helperBin, Env: []string{allocEnv + "=256"}}
	s := f.start(t, "", supervise.Config{Spec: spec, Backoff: fast, MemoryLimitMiB: 64, MemoryPoll: 50 * time.Millisecond})
	st := waitFor(t, s, "OOM exit", func(st supervise.Status) bool { return st.Crashes >= 1 })
	if !strings.HasPrefix(st.LastExit, "OOM: ") || !strings.Contains(st.LastExit, "over the 64 MiB limit") {
		t.Fatalf("LastExit = %q, want an OOM reason naming the 64 MiB limit", st.LastExit)
	}
	t.Logf("watchdog: %s", st.LastExit)
}

func TestFailedStartCountsAsACrash(t *testing.T) {
	f := newFixture(t)
	spec := sandbox.Spec{Name: "missing-0", Path: "/nonexistent/service"}
	s := f.start(t, "", supervise.Config{Spec: spec, Backoff: fast})
	st := waitFor(t, s, "error state", func(st supervise.Status) bool { return st.State == supervise.Error })
	if !strings.HasPrefix(st.LastExit, "start failed: ") || st.Crashes != 5 {
		t.Fatalf("status = %+v, want 5 crashes with a start failure reason", st)
	}
}

func TestFollowSeesEveryRun(t *testing.T) {
	f := newFixture(t)
	_, sub, err := f.log.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f.start(t, `echo "run $$"; exit 1`, supervise.Config{Backoff: fast})
	runs := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(runs) < 3 {
		select {
		case l := <-sub.Lines():
			if !strings.HasPrefix(l.Text, "run ") || l.Stream != logs.Stdout {
				t.Fatalf("followed %+v, want a run line on stdout", l)
			}
			runs[l.Text] = true
		case <-deadline:
			t.Fatalf("followed %d runs within 30s, want 3", len(runs))
		}
	}
}

// waitPid polls until path holds a pid.
func waitPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s within 10s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone polls until pid has exited (a zombie counts as gone).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(data), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after 10s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
