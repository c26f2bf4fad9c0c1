package runtimetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"m3o.dev/services/runtime"
)

// lifecycle takes one service through its life: a first deployment, an
// update that takes, two that do not (a build that fails, instances that
// keep crashing), and deletion.
func (s *suite) lifecycle(t *testing.T) {
	d := s.deployment(t, "life", 1, Greeter, 1, "GREETING=one")
	s.apply(t, d)
	st, seen := s.await(t, d.Ref, "first deployment", running(1))
	checkOrder(t, seen, runtime.StateRunning)
	if got := numbers(st); !slices.Equal(got, []string{"1@1"}) {
		t.Errorf("instances = %v, want [1@1]", got)
	}
	if logs := s.logText(t, d.Ref, false); !strings.Contains(logs, "1 stdout greeting: one") {
		t.Errorf("logs lack instance 1's greeting:\n%s", logs)
	}
	s.updateTakes(t, d.Ref)
	s.updateFailsToBuild(t, d.Ref)
	s.updateKeepsCrashing(t, d.Ref)
	s.deleteService(t, d.Ref)
}

// updateTakes updates to two instances of a new greeting: the new ones get
// numbers the old one does not use, the old one stops once they run, and
// a follower of the logs sees the new instances' lines.
func (s *suite) updateTakes(t *testing.T, ref runtime.Ref) {
	lines := s.follow(t, ref)
	s.waitLine(t, lines, "greeting: one")
	s.apply(t, s.deployment(t, ref.Name, 2, Greeter, 2, "GREETING=two"))
	st, seen := s.await(t, ref, "update to generation 2", func(st runtime.Status) bool {
		return running(2)(st) && len(st.Instances) == 2
	})
	checkOrder(t, seen, runtime.StateRunning)
	if got := numbers(st); !slices.Equal(got, []string{"2@2", "3@2"}) {
		t.Errorf("instances after the update = %v, want [2@2 3@2]", got)
	}
	if l := s.waitLine(t, lines, "greeting: two"); !strings.HasPrefix(l, "2 ") && !strings.HasPrefix(l, "3 ") {
		t.Errorf("followed line %q, want it from instance 2 or 3", l)
	}
}

// updateFailsToBuild updates to a source that does not compile: the
// update is given up with the compiler's message and generation 2 serves
// on.
func (s *suite) updateFailsToBuild(t *testing.T, ref runtime.Ref) {
	s.apply(t, s.deployment(t, ref.Name, 3, Broken, 2))
	st, _ := s.await(t, ref, "update to a broken build", settledOn(3))
	if st.State != runtime.StateRunning || st.RunningGeneration != 2 || !strings.Contains(st.Reason, "undefinedFunction") {
		t.Errorf("after a failed build: %+v, want generation 2 running and the compiler's message", st)
	}
	if got := numbers(st); !slices.Equal(got, []string{"2@2", "3@2"}) {
		t.Errorf("instances after a failed build = %v, want [2@2 3@2] untouched", got)
	}
	if build := s.logText(t, ref, true); !strings.Contains(build, "undefinedFunction") {
		t.Errorf("build log lacks the compiler's message:\n%s", build)
	}
}

// updateKeepsCrashing updates to instances that exit at once: they are
// stopped once they count as crashing and generation 2 serves on.
func (s *suite) updateKeepsCrashing(t *testing.T, ref runtime.Ref) {
	s.apply(t, s.deployment(t, ref.Name, 4, Greeter, 1, "MODE=crash"))
	st, _ := s.await(t, ref, "update to crashing instances", func(st runtime.Status) bool {
		return settledOn(4)(st) && len(st.Instances) == 2
	})
	if st.State != runtime.StateRunning || st.RunningGeneration != 2 || !strings.Contains(st.Reason, "keeps crashing") {
		t.Errorf("after an update whose instances crash: %+v, want generation 2 running and why 4 did not take", st)
	}
	if got := numbers(st); !slices.Equal(got, []string{"2@2", "3@2"}) {
		t.Errorf("instances = %v, want [2@2 3@2]", got)
	}
}

// deleteService deletes the service: it is gone from Status, List and
// Logs.
func (s *suite) deleteService(t *testing.T, ref runtime.Ref) {
	if err := s.b.Delete(t.Context(), ref); err != nil {
		t.Fatalf("Delete(%s) = %v", ref, err)
	}
	if _, err := s.b.Status(t.Context(), ref); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Delete = %v, want ErrNotFound", err)
	}
	refs, err := s.b.List(t.Context())
	if err != nil || slices.Contains(refs, ref) {
		t.Errorf("List after Delete = %v, %v, want no %s", refs, err, ref)
	}
	err = s.b.Logs(t.Context(), ref, runtime.LogOptions{Count: 1}, func(runtime.LogLine) error { return nil })
	if !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Logs after Delete = %v, want ErrNotFound", err)
	}
}

// crashBackoff runs a service that exits at once: it goes to error after
// ErrorAfter crashes, with the exit and the count, and keeps restarting.
func (s *suite) crashBackoff(t *testing.T) {
	d := s.deployment(t, "crashy", 1, Greeter, 1, "MODE=crash")
	s.apply(t, d)
	defer s.b.Delete(t.Context(), d.Ref)
	st, seen := s.await(t, d.Ref, "a crash loop", func(st runtime.Status) bool { return st.State == runtime.StateError })
	checkOrder(t, seen, runtime.StateError)
	inst := st.Instances[0]
	if inst.State != runtime.StateError || inst.Restarts < s.h.ErrorAfter-1 || inst.LastExit != "exit status 1" {
		t.Errorf("instance after the crash loop: %+v, want error, at least %d restarts, exit status 1", inst, s.h.ErrorAfter-1)
	}
	if !strings.Contains(st.Reason, "exit status 1") || !strings.Contains(st.Reason, "crashes in a row") {
		t.Errorf("reason %q, want the exit and the count", st.Reason)
	}
	s.await(t, d.Ref, "restarts after the error", func(later runtime.Status) bool {
		return len(later.Instances) == 1 && later.Instances[0].Restarts > inst.Restarts
	})
}

// mainReturns runs a service whose main returns at once: it goes to error
// as a crashing one does, and its reason says that main returned rather
// than calling the clean exits crashes.
func (s *suite) mainReturns(t *testing.T) {
	d := s.deployment(t, "quitter", 1, Greeter, 1, "MODE=return")
	s.apply(t, d)
	defer s.b.Delete(t.Context(), d.Ref)
	st, _ := s.await(t, d.Ref, "a loop of clean exits", func(st runtime.Status) bool { return st.State == runtime.StateError })
	if inst := st.Instances[0]; inst.LastExit != runtime.CleanExit {
		t.Errorf("instance after the loop: %+v, want last exit %q", inst, runtime.CleanExit)
	}
	for _, want := range []string{"exits in a row", runtime.MainReturned} {
		if !strings.Contains(st.Reason, want) {
			t.Errorf("reason %q, want it to say %q", st.Reason, want)
		}
	}
}

// firstBuildFails deploys a source that does not compile: the service is
// in error with the compiler's message, and nothing runs.
func (s *suite) firstBuildFails(t *testing.T) {
	d := s.deployment(t, "broken", 1, Broken, 1)
	s.apply(t, d)
	defer s.b.Delete(t.Context(), d.Ref)
	st, seen := s.await(t, d.Ref, "a failed build", settledOn(1))
	checkOrder(t, seen, runtime.StateError)
	if st.State != runtime.StateError || !strings.Contains(st.Reason, "undefinedFunction") || len(st.Instances) != 0 || st.RunningGeneration != 0 {
		t.Errorf("after a failed first build: %+v, want error with the compiler's message and no instance", st)
	}
}

// olderGenerationIgnored applies generation 2, then 1: the backend keeps
// 2.
func (s *suite) olderGenerationIgnored(t *testing.T) {
	d := s.deployment(t, "ordered", 2, Greeter, 1, "GREETING=newer")
	s.apply(t, d)
	defer s.b.Delete(t.Context(), d.Ref)
	s.apply(t, s.deployment(t, "ordered", 1, Greeter, 1, "GREETING=older"))
	st, _ := s.await(t, d.Ref, "generation 2", running(2))
	if st.Generation != 2 {
		t.Errorf("generation = %d after applying 1 over 2, want 2", st.Generation)
	}
	if logs := s.logText(t, d.Ref, false); strings.Contains(logs, "greeting: older") {
		t.Errorf("generation 1 ran after generation 2:\n%s", logs)
	}
}

// updateNeverRegisters updates to instances that run but never register:
// after the start timeout they are stopped and the old generation serves.
func (s *suite) updateNeverRegisters(t *testing.T) {
	d := s.deployment(t, "mute", 1, Greeter, 1, "GREETING=first")
	s.apply(t, d)
	defer s.b.Delete(t.Context(), d.Ref)
	s.await(t, d.Ref, "first deployment", running(1))
	s.apply(t, s.deployment(t, "mute", 2, Greeter, 1, "MODE=silent"))
	st, _ := s.await(t, d.Ref, "an update that never registers", func(st runtime.Status) bool {
		return settledOn(2)(st) && len(st.Instances) == 1
	})
	if st.State != runtime.StateRunning || st.RunningGeneration != 1 || !strings.Contains(st.Reason, "not registered") {
		t.Errorf("after an update that never registers: %+v, want generation 1 running and why 2 did not take", st)
	}
}

// deleteUnknown deletes a service the backend never ran.
func (s *suite) deleteUnknown(t *testing.T) {
	ref := runtime.Ref{Namespace: s.h.Namespace, Name: "never-ran"}
	if err := s.b.Delete(t.Context(), ref); err != nil {
		t.Errorf("Delete(unknown) = %v, want nil", err)
	}
	if _, err := s.b.Status(t.Context(), ref); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status(unknown) = %v, want ErrNotFound", err)
	}
}
