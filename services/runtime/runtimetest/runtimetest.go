// Package runtimetest is the conformance suite of runtime backends: Run
// drives a Backend through every state a service passes, crash backoff, a
// failed first build, updates that take and updates that do not (a build
// that fails, instances that keep crashing or never register), logs
// across instances, and deletion.
//
// The services it deploys are its own programs (see Program), which keep
// the contract between the runtime and an instance by hand; the backend's
// harness provides what they need to reach the platform: the environment
// with their service account.
package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/runtime"
)

// Harness is what the suite needs from a backend under test.
type Harness struct {
	// New returns a fresh backend; the harness closes it when the test
	// ends.
	New func(t *testing.T) runtime.Backend
	// Namespace is where the suite's services run; the harness has made
	// it and may run services there.
	Namespace string
	// Env returns the platform's environment of an instance of ref: every
	// variable of the contract that the backend does not set itself,
	// service account included.
	Env func(t *testing.T, ref runtime.Ref) []string
	// Settle bounds how long a deployment may take to run or fail, the
	// first build of a namespace included.
	Settle time.Duration
	// StartTimeout is how long the backend waits for an update's instances
	// to register before it gives the update up; when set, the suite also
	// checks that an update whose instances never register is given up.
	StartTimeout time.Duration
	// ErrorAfter is how many crashes in a row put an instance in error.
	ErrorAfter int
}

// Run runs the suite against the backend h makes. Its subtests run one
// after the other: they share the backend, whose first build in the
// namespace is the slow one.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h, b: h.New(t)}
	t.Run("Lifecycle", s.lifecycle)
	t.Run("CrashBackoff", s.crashBackoff)
	t.Run("MainReturns", s.mainReturns)
	t.Run("FirstBuildFails", s.firstBuildFails)
	t.Run("OlderGenerationIgnored", s.olderGenerationIgnored)
	t.Run("Resize", s.resize)
	if h.StartTimeout > 0 {
		t.Run("UpdateNeverRegisters", s.updateNeverRegisters)
	}
	t.Run("DeleteUnknown", s.deleteUnknown)
}

// suite is one run of the suite.
type suite struct {
	h Harness
	b runtime.Backend
}

// deployment returns generation gen of the service name: program with the
// given environment added to the platform's.
func (s *suite) deployment(t *testing.T, name string, gen uint64, program string, instances int, env ...string) runtime.Deployment {
	ref := runtime.Ref{Namespace: s.h.Namespace, Name: name}
	return runtime.Deployment{
		Ref: ref, Generation: gen, Version: "v" + fmt.Sprint(gen),
		Source: Program(program, fmt.Sprint(gen)), Env: append(env, s.h.Env(t, ref)...),
		Instances: instances, Resources: runtime.Resources{MemoryMiB: 256},
	}
}

// apply applies d, failing the test on error.
func (s *suite) apply(t *testing.T, d runtime.Deployment) {
	t.Helper()
	if _, err := s.b.Apply(t.Context(), d); err != nil {
		t.Fatalf("Apply(%s generation %d) = %v", d.Ref, d.Generation, err)
	}
}

// await polls the service's status until done says it is settled, and
// returns it with every state seen on the way, in order. It fails the test
// after Settle.
func (s *suite) await(t *testing.T, ref runtime.Ref, what string, done func(runtime.Status) bool) (runtime.Status, []runtime.State) {
	t.Helper()
	deadline := time.Now().Add(s.h.Settle)
	var seen []runtime.State
	for {
		st, err := s.b.Status(t.Context(), ref)
		if err != nil {
			t.Fatalf("Status(%s) = %v", ref, err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.State {
			seen = append(seen, st.State)
		}
		if done(st) {
			return st, seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not settled after %s: last status %+v, states seen %v\nlogs:\n%s", ref, what, s.h.Settle, st, seen, s.logText(t, ref, false))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether generation gen serves with every instance
// running.
func running(gen uint64) func(runtime.Status) bool {
	return func(st runtime.Status) bool {
		return st.State == runtime.StateRunning && st.RunningGeneration == gen && allInstances(st, runtime.StateRunning)
	}
}

// settledOn reports whether the latest deployment is no longer in
// progress.
func settledOn(gen uint64) func(runtime.Status) bool {
	return func(st runtime.Status) bool {
		return st.Generation == gen && !slices.Contains([]runtime.State{runtime.StatePending, runtime.StateBuilding, runtime.StateStarting}, st.State)
	}
}

func allInstances(st runtime.Status, state runtime.State) bool {
	for _, inst := range st.Instances {
		if inst.State != state {
			return false
		}
	}
	return len(st.Instances) > 0
}

// numbers lists the instance numbers and generations of a status.
func numbers(st runtime.Status) []string {
	var out []string
	for _, inst := range st.Instances {
		out = append(out, fmt.Sprintf("%d@%d", inst.Number, inst.Generation))
	}
	return out
}

// checkOrder fails unless the states seen follow the life of a deployment:
// pending, building, starting, then the end state, each at most once and
// in that order, with building among them.
func checkOrder(t *testing.T, seen []runtime.State, end runtime.State) {
	t.Helper()
	order := []runtime.State{runtime.StatePending, runtime.StateBuilding, runtime.StateStarting, end}
	last := -1
	for _, st := range seen {
		i := slices.Index(order, st)
		if i <= last {
			t.Errorf("states %v do not follow %v", seen, order)
			return
		}
		last = i
	}
	if !slices.Contains(seen, runtime.StateBuilding) || seen[len(seen)-1] != end {
		t.Errorf("states %v: want building on the way and %s at the end", seen, end)
	}
}

// logText returns the service's latest log lines, one per line, as
// "<instance> <stream> <text>", or its build log.
func (s *suite) logText(t *testing.T, ref runtime.Ref, build bool) string {
	t.Helper()
	var b strings.Builder
	err := s.b.Logs(t.Context(), ref, runtime.LogOptions{Count: 200, Build: build}, func(l runtime.LogLine) error {
		fmt.Fprintf(&b, "%d %s %s\n", l.Instance, l.Stream, l.Text)
		return nil
	})
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		fmt.Fprintf(&b, "(logs: %v)\n", err)
	}
	return b.String()
}

// follow follows the service's logs until the test ends, sending each
// line's "<instance> <stream> <text>" to the returned channel.
func (s *suite) follow(t *testing.T, ref runtime.Ref) <-chan string {
	ctx, cancel := context.WithCancel(t.Context())
	out := make(chan string, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.b.Logs(ctx, ref, runtime.LogOptions{Count: 10, Follow: true}, func(l runtime.LogLine) error {
			select {
			case out <- fmt.Sprintf("%d %s %s", l.Instance, l.Stream, l.Text):
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return out
}

// waitLine waits for a followed line that contains want.
func (s *suite) waitLine(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	timeout := time.After(s.h.Settle)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no followed log line contains %q after %s", want, s.h.Settle)
		}
	}
}
