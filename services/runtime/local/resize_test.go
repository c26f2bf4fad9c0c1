package local_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/internal/coretest"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local"
)

// testResizeInPlace resizes a running service from 1 instance to 3: the
// backend starts two processes beside the first, which keeps running
// untouched, and all three register; then it lowers the memory limit
// below what the instances use, and the watchdog restarts them for it.
func testResizeInPlace(t *testing.T, e *env, work backendOptions, ns string) {
	b := e.backend(t, work, time.Minute)
	d := e.greeter(t, ns, "resized", 1)
	d.Resources.MemoryMiB = 256
	if _, err := b.Apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, b, d.Ref, 0)
	firstPgid := pgid(t, work, d.Ref, 1)
	d.Generation, d.Instances = 2, 3
	ro, err := b.Apply(t.Context(), d)
	if err != nil || ro.Strategy != runtime.StrategyNone || !slices.Contains(ro.Notes, runtime.CPUNotEnforced) {
		t.Fatalf("Apply(3 instances) = %+v, %v, want an in-place resize that says CPU is not enforced", ro, err)
	}
	st := waitInstances(t, b, d.Ref, 3, func(i runtime.InstanceStatus) bool { return i.State == runtime.StateRunning })
	if got := []int{st.Instances[0].Number, st.Instances[1].Number, st.Instances[2].Number}; !slices.Equal(got, []int{1, 2, 3}) || st.Instances[0].Restarts != 0 {
		t.Errorf("instances after the resize = %+v, want 1, 2 and 3 with 1 never restarted", st.Instances)
	}
	if now := pgid(t, work, d.Ref, 1); now != firstPgid {
		t.Errorf("instance 1 runs as process group %s after the resize, was %s: it was restarted", now, firstPgid)
	}
	if nodes := e.nodes(t, d.Ref); len(nodes) != 3 {
		t.Errorf("registered nodes after the resize = %d, want 3", len(nodes))
	}
	d.Generation, d.Resources.MemoryMiB = 3, 4
	if _, err := b.Apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	waitInstances(t, b, d.Ref, 3, func(i runtime.InstanceStatus) bool {
		return i.Restarts > 0 && strings.HasPrefix(i.LastExit, "OOM: ") && strings.Contains(i.LastExit, "over the 4 MiB limit")
	})
}

// testOOM runs an instance that touches more memory than its limit, page
// by page: the watchdog kills it and it restarts, with the reason OOM.
func testOOM(t *testing.T, e *env, work backendOptions, ns string) {
	b := e.backend(t, work, time.Minute)
	d := e.greeter(t, ns, "hog", 1)
	d.Env = append(d.Env, "MODE=hog", "HOG_MIB=192")
	d.Resources.MemoryMiB = 64
	if _, err := b.Apply(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	st := waitInstances(t, b, d.Ref, 1, func(i runtime.InstanceStatus) bool { return i.Restarts > 0 && i.LastExit != "" })
	inst := st.Instances[0]
	if !strings.HasPrefix(inst.LastExit, "OOM: ") || !strings.Contains(inst.LastExit, "over the 64 MiB limit") {
		t.Errorf("instance after touching 192 MiB under a 64 MiB limit: %+v, want a restart with reason OOM", inst)
	}
	t.Logf("watchdog: %s", inst.LastExit)
}

// waitInstances waits until ref has n instances and each satisfies ok.
func waitInstances(t *testing.T, b *local.Backend, ref runtime.Ref, n int, ok func(runtime.InstanceStatus) bool) runtime.Status {
	t.Helper()
	var st runtime.Status
	coretest.Eventually(t, fmt.Sprintf("%d instances", n), func() error {
		var err error
		if st, err = b.Status(t.Context(), ref); err != nil {
			return err
		}
		if len(st.Instances) != n || slices.ContainsFunc(st.Instances, func(i runtime.InstanceStatus) bool { return !ok(i) }) {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return st
}

// pgid returns the process group of instance n of ref, from the sandbox's
// pid file.
func pgid(t *testing.T, work backendOptions, ref runtime.Ref, n int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(work.dir, "sandbox", "run", fmt.Sprintf("%s.%s-%d.pid", ref.Namespace, ref.Name, n)))
	if err != nil {
		t.Fatal(err)
	}
	field, _, _ := strings.Cut(strings.TrimPrefix(string(data), "pgid="), " ")
	return field
}
