package runtimetest

import (
	"slices"
	"testing"

	"m3o.dev/services/runtime"
)

// resize deploys one instance, then the same code and environment with
// three instances and more memory, as the runtime's Resize does: three
// run, and the rollout the backend names matches whether the first
// instance was replaced.
func (s *suite) resize(t *testing.T) {
	d := s.deployment(t, "sized", 1, Greeter, 1, "GREETING=sized")
	s.apply(t, d)
	defer s.b.Delete(t.Context(), d.Ref)
	s.await(t, d.Ref, "first deployment", running(1))
	bigger := d
	bigger.Generation, bigger.Instances = 2, 3
	bigger.Resources.MemoryMiB = d.Resources.MemoryMiB * 2
	ro, err := s.b.Apply(t.Context(), bigger)
	if err != nil {
		t.Fatalf("Apply(resize to 3) = %v", err)
	}
	st, _ := s.await(t, d.Ref, "resize to 3 instances", func(st runtime.Status) bool {
		return running(2)(st) && len(st.Instances) == 3
	})
	first := st.Instances[0]
	kept := first.Number == 1 && first.Restarts == 0
	if (ro.Strategy == runtime.StrategyNone) != kept {
		t.Errorf("Apply(resize) said rollout %q, but instances are %v (first %+v)", ro.Strategy, numbers(st), first)
	}
	if got := numbers(st); ro.Strategy == runtime.StrategyNone && !slices.Equal(got, []string{"1@2", "2@2", "3@2"}) {
		t.Errorf("instances after an in-place resize = %v, want [1@2 2@2 3@2]", got)
	}
	smaller := bigger
	smaller.Generation, smaller.Instances = 3, 1
	s.apply(t, smaller)
	s.await(t, d.Ref, "resize back to 1 instance", func(st runtime.Status) bool {
		return running(3)(st) && len(st.Instances) == 1
	})
}
