package local

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"m3o.dev/pkg/service"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/sandbox"
	"m3o.dev/services/runtime/local/supervise"
)

// refreshEvery is how many polls pass between checks that running
// instances are still registered.
const refreshEvery = 10

// release is one generation's built binary and its instances.
type release struct {
	d         runtime.Deployment
	binary    string
	srcDir    string
	instances []*instance
	halted    chan struct{} // closed once its instances are stopped
	haltOnce  sync.Once
}

// newRelease returns the release of d built into binary from srcDir.
func newRelease(d runtime.Deployment, binary, srcDir string) *release {
	return &release{d: d, binary: binary, srcDir: srcDir, halted: make(chan struct{})}
}

// markStopped records that the release's instances are stopped.
func (rel *release) markStopped() { rel.haltOnce.Do(func() { close(rel.halted) }) }

// instance is one supervised process of a release.
type instance struct {
	number     int
	errorAfter int
	sup        *supervise.Supervisor

	mu         sync.Mutex
	st         supervise.Status
	registered bool
}

// freeNumbers returns the n lowest instance numbers the serving release
// does not use.
func freeNumbers(serving *release, n int) []int {
	used := map[int]bool{}
	if serving != nil {
		for _, inst := range serving.instances {
			used[inst.number] = true
		}
	}
	var out []int
	for i := 1; len(out) < n; i++ {
		if !used[i] {
			out = append(out, i)
		}
	}
	return out
}

// startInstances starts one supervised process per number.
func (u *unit) startInstances(rel *release, numbers []int) error {
	for _, n := range numbers {
		inst, err := u.startInstance(rel, n)
		if err != nil {
			return err
		}
		rel.instances = append(rel.instances, inst)
	}
	return nil
}

// startInstance starts instance n of rel under the supervisor.
func (u *unit) startInstance(rel *release, n int) (*instance, error) {
	log, err := u.logFor(n)
	if err != nil {
		return nil, err
	}
	inst := &instance{number: n, errorAfter: u.b.errorAfter(), st: supervise.Status{State: supervise.Starting, Since: time.Now()}}
	inst.sup, err = supervise.Start(supervise.Config{
		Sandbox: u.b.sb, Log: log, Backoff: u.b.opts.Backoff, Grace: u.b.opts.Grace,
		MemoryLimitMiB: int64(rel.d.Resources.MemoryMiB),
		Spec:           u.spec(rel, n),
		OnChange:       func(st supervise.Status) { u.changed(inst, st) },
	})
	if err != nil {
		return nil, fmt.Errorf("start instance %d: %w", n, err)
	}
	return inst, nil
}

// spec is the process of instance n: the release's binary, in its source
// directory, with the deployment's environment and the instance's own.
func (u *unit) spec(rel *release, n int) sandbox.Spec {
	env := append(slices.Clone(rel.d.Env),
		service.EnvNamespace+"="+u.ref.Namespace,
		service.EnvServiceName+"="+u.ref.Name,
		service.EnvServiceVersion+"="+rel.d.Version,
		service.EnvAddress+"=127.0.0.1:0",
		service.EnvTLSDir+"="+u.tlsDir(),
		service.EnvInstance+"="+strconv.Itoa(n),
	)
	return sandbox.Spec{
		Namespace: u.ns, Name: u.ref.Name + "-" + strconv.Itoa(n),
		Path: rel.binary, Dir: rel.srcDir, Env: env,
	}
}

// changed records an instance's new status. A process that ended cannot
// be registered any more: its nodes are taken out at once, so that the
// next process of the instance is not taken for registered by its
// predecessor's node. It must not block (see supervise.Config.OnChange).
func (u *unit) changed(inst *instance, st supervise.Status) {
	inst.mu.Lock()
	inst.st = st
	if st.State != supervise.Running {
		inst.registered = false
	}
	inst.mu.Unlock()
	if st.State == supervise.Crashed || st.State == supervise.Error {
		go u.deregister(u.ctx, []int{inst.number})
	}
}

// snapshot returns the instance's status and whether it is registered.
func (i *instance) snapshot() supervise.Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.st
}

// state is the instance's runtime state. An instance that crashed too
// often in a row stays in error while it restarts, until it runs
// registered again.
func (i *instance) state() runtime.State {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case i.st.State == supervise.Running && i.registered:
		return runtime.StateRunning
	case i.st.State == supervise.Stopped:
		return runtime.StateStopped
	case i.st.State == supervise.Error || i.st.Crashes >= i.errorAfter:
		return runtime.StateError
	}
	return runtime.StateStarting
}

// allRunning reports whether every instance of rel is running.
func (rel *release) allRunning() bool {
	for _, inst := range rel.instances {
		if inst.state() != runtime.StateRunning {
			return false
		}
	}
	return len(rel.instances) > 0
}

// failing returns an instance of rel that crashed too often, or nil.
func (rel *release) failing() *instance {
	for _, inst := range rel.instances {
		if inst.state() == runtime.StateError {
			return inst
		}
	}
	return nil
}

// unregistered reports whether a process of rel runs but is not
// registered yet.
func (rel *release) unregistered() bool {
	for _, inst := range rel.instances {
		inst.mu.Lock()
		waiting := inst.st.State == supervise.Running && !inst.registered
		inst.mu.Unlock()
		if waiting {
			return true
		}
	}
	return false
}

// observe marks each running instance of rel registered when the registry
// lists a node of its number and the release's version.
func (rel *release) observe(nodes []Node) {
	listed := map[string]bool{}
	for _, n := range nodes {
		if n.Version == rel.d.Version {
			listed[n.Instance] = true
		}
	}
	for _, inst := range rel.instances {
		inst.mu.Lock()
		inst.registered = inst.st.State == supervise.Running && listed[strconv.Itoa(inst.number)]
		inst.mu.Unlock()
	}
}

// monitor asks the registry about rel's instances until the release
// stops: every poll while one is not registered yet, and now and then
// otherwise, to notice one that fell out.
func (u *unit) monitor(rel *release) {
	tick := time.NewTicker(u.b.opts.PollInterval)
	defer tick.Stop()
	for polls := 0; ; polls++ {
		if rel.unregistered() || polls%refreshEvery == 0 {
			nodes, err := u.b.opts.Registry.Nodes(u.ctx, u.ref)
			if err != nil {
				u.b.log.Debug("registry poll", "namespace", u.ref.Namespace, "service", u.ref.Name, "error", err)
			} else {
				rel.observe(nodes)
			}
		}
		select {
		case <-u.ctx.Done():
			return
		case <-rel.halted:
			return
		case <-tick.C:
		}
	}
}

// stopRelease stops every instance of rel in parallel, each with SIGTERM,
// the grace period and SIGKILL, then takes their nodes out of the
// registry: an instance killed before it could deregister leaves its node
// behind.
func (u *unit) stopRelease(rel *release) {
	var wg sync.WaitGroup
	numbers := make([]int, 0, len(rel.instances))
	for _, inst := range rel.instances {
		numbers = append(numbers, inst.number)
		wg.Go(inst.sup.Stop)
	}
	wg.Wait()
	rel.markStopped()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u.deregister(ctx, numbers)
}

// deregister takes the nodes of the given instance numbers out of the
// registry.
func (u *unit) deregister(ctx context.Context, numbers []int) {
	nodes, err := u.b.opts.Registry.Nodes(ctx, u.ref)
	if err != nil {
		u.b.log.Debug("nodes to deregister", "namespace", u.ref.Namespace, "service", u.ref.Name, "error", err)
		return
	}
	var gone []Node
	for _, n := range nodes {
		if slices.Contains(numbers, atoi(n.Instance)) {
			gone = append(gone, n)
		}
	}
	if len(gone) == 0 {
		return
	}
	if err := u.b.opts.Registry.Deregister(ctx, u.ref, gone); err != nil {
		u.b.log.Debug("deregister stopped instances", "namespace", u.ref.Namespace, "service", u.ref.Name, "error", err)
	}
}

// atoi reads an instance number, -1 when it is none.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// tlsDir is the instances' MICRO_TLS_DIR.
func (u *unit) tlsDir() string { return filepath.Join(u.ns.Dir, "tls", u.ref.Name) }
