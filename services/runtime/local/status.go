package local

import (
	"fmt"
	"slices"

	"m3o.dev/services/runtime"
)

// status derives the service's status from its rollout and releases.
func (u *unit) status() runtime.Status {
	u.mu.Lock()
	cur, next, phase := u.current, u.next, u.phase
	st := runtime.Status{Generation: u.generation, Reason: u.reason}
	u.mu.Unlock()
	for _, rel := range []*release{cur, next} {
		if rel != nil {
			st.Instances = append(st.Instances, rel.statuses()...)
		}
	}
	slices.SortFunc(st.Instances, func(a, b runtime.InstanceStatus) int { return a.Number - b.Number })
	if cur != nil {
		st.RunningGeneration = cur.d.Generation
	}
	switch {
	case phase != "":
		st.State = phase
	case cur == nil && st.Reason != "":
		st.State = runtime.StateError
	case cur == nil:
		st.State = runtime.StatePending
	default:
		st.State = cur.state()
		if why := cur.errorReason(); why != "" {
			st.Reason = joinReasons(why, st.Reason)
		}
	}
	return st
}

// statuses returns the status of each instance of rel.
func (rel *release) statuses() []runtime.InstanceStatus {
	out := make([]runtime.InstanceStatus, 0, len(rel.instances))
	for _, inst := range rel.instances {
		s := inst.snapshot()
		out = append(out, runtime.InstanceStatus{
			Number: inst.number, Generation: rel.d.Generation, State: inst.state(),
			Restarts: s.Restarts, LastExit: s.LastExit, Since: s.Since,
		})
	}
	return out
}

// state is the release's state: running when every instance is, error
// when one crashed too often in a row, starting otherwise.
func (rel *release) state() runtime.State {
	switch {
	case rel.failing() != nil:
		return runtime.StateError
	case rel.allRunning():
		return runtime.StateRunning
	}
	return runtime.StateStarting
}

// errorReason says which instance is in error and why, or "".
func (rel *release) errorReason() string {
	inst := rel.failing()
	if inst == nil {
		return ""
	}
	s := inst.snapshot()
	_, runs := runtime.Endings(s.LastExit)
	return fmt.Sprintf("instance %d: %s after %d %s in a row (%d restarts); restarting every %s%s",
		inst.number, s.LastExit, s.Crashes, runs, s.Restarts, s.Delay, runtime.ExitNote(s.LastExit))
}

func joinReasons(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
