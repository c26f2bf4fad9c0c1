package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/build"
)

// rollout takes d from its source to serving instances. See the package
// documentation for the steps and what a failure leaves behind.
func (u *unit) rollout(ctx context.Context, d runtime.Deployment) {
	rel, err := u.prepare(ctx, d)
	if err != nil {
		u.failed(ctx, d, err)
		return
	}
	first, err := u.start(ctx, rel)
	if err != nil {
		u.stopRelease(rel)
		u.failed(ctx, d, err)
		return
	}
	if first {
		return
	}
	if err := u.waitRunning(ctx, rel); err != nil {
		u.abandon(rel)
		u.failed(ctx, d, err)
		return
	}
	u.promote(rel)
}

// prepare fetches and builds d's source and returns the release to start.
func (u *unit) prepare(ctx context.Context, d runtime.Deployment) (*release, error) {
	u.setPhase(runtime.StateBuilding)
	if err := u.clearStaleNodes(ctx); err != nil {
		return nil, err
	}
	src, err := u.fetch(ctx, d.Source)
	if err != nil {
		return nil, err
	}
	binary, err := u.build(ctx, d, src)
	if err != nil {
		return nil, err
	}
	return newRelease(d, binary, src), nil
}

// clearStaleNodes takes out, before the service's first rollout in this
// backend, any node left registered by instances of an earlier server,
// killed before they could deregister: nothing of the service runs yet,
// so no node can be live, and a stale one would pass for a new instance.
func (u *unit) clearStaleNodes(ctx context.Context) error {
	u.mu.Lock()
	fresh := u.current == nil && u.next == nil
	u.mu.Unlock()
	if !fresh {
		return nil
	}
	nodes, err := u.b.opts.Registry.Nodes(ctx, u.ref)
	if err == nil && len(nodes) > 0 {
		err = u.b.opts.Registry.Deregister(ctx, u.ref, nodes)
	}
	return err
}

// fetch puts the source's tree in the namespace's source directory, where
// the namespace may read it and nothing else may, reusing a tree fetched
// before.
func (u *unit) fetch(ctx context.Context, src runtime.Source) (string, error) {
	dir := filepath.Join(u.ns.SourceDir, u.ref.Name+"_"+dirSafe(src.ID()))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := src.Fetch(ctx, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// dirSafe keeps the characters of a source id that a directory name may
// hold without surprise.
func dirSafe(id string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(id))
}

// build compiles the source and gives the binary a name of its
// generation's own, so that an older release restarting after a crash
// never runs a newer build.
func (u *unit) build(ctx context.Context, d runtime.Deployment, src string) (string, error) {
	if err := os.MkdirAll(u.logDir, 0o700); err != nil {
		return "", err
	}
	req := build.Request{Namespace: u.ns, Service: u.ref.Name, Source: src, LogPath: u.buildLog()}
	if _, err := u.b.builder.Build(ctx, req); err != nil {
		return "", err
	}
	bin := binaryName(u.ref.Name, d.Generation)
	if err := u.ns.Rename("bin/"+u.ref.Name, bin); err != nil {
		return "", err
	}
	return filepath.Join(u.ns.Dir, bin), nil
}

// binaryName is a generation's binary, relative to the namespace's tree.
func binaryName(service string, generation uint64) string {
	return fmt.Sprintf("bin/%s.%d", service, generation)
}

// start starts the release's instances. The first release of a unit
// serves at once and start reports true; a later one waits as next.
func (u *unit) start(ctx context.Context, rel *release) (bool, error) {
	u.setPhase(runtime.StateStarting)
	if err := u.ensureCerts(); err != nil {
		return false, err
	}
	u.mu.Lock()
	first := u.current == nil
	numbers := freeNumbers(u.current, rel.d.Instances)
	u.mu.Unlock()
	if err := u.startInstances(rel, numbers); err != nil {
		return false, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if first {
		u.current, u.phase = rel, ""
	} else {
		u.next = rel
	}
	go u.monitor(rel)
	return first, nil
}

// waitRunning waits until every instance of rel is running, and fails
// when one keeps crashing or the start timeout passes first.
func (u *unit) waitRunning(ctx context.Context, rel *release) error {
	timeout := time.NewTimer(u.b.opts.StartTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(u.b.opts.PollInterval)
	defer tick.Stop()
	for {
		if rel.allRunning() {
			return nil
		}
		if inst := rel.failing(); inst != nil {
			last := inst.snapshot().LastExit
			doing, _ := runtime.Endings(last)
			return notRunningError(fmt.Sprintf("instance %d keeps %s: %s%s", inst.number, doing, last, runtime.ExitNote(last)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return notRunningError(fmt.Sprintf("its instances were not registered within %s", u.b.opts.StartTimeout))
		case <-tick.C:
		}
	}
}

// notRunningError says why a release's instances did not all come up.
type notRunningError string

// Error implements error.
func (e notRunningError) Error() string { return string(e) }

// promote makes rel the serving release and stops the one it replaces.
func (u *unit) promote(rel *release) {
	u.mu.Lock()
	old := u.current
	u.current, u.next, u.phase, u.reason = rel, nil, "", ""
	u.mu.Unlock()
	if old != nil {
		u.stopRelease(old)
		u.removeBinaries(binaryName(u.ref.Name, rel.d.Generation))
	}
	u.removeSources(rel.srcDir)
	u.b.log.Info("service updated", "namespace", u.ref.Namespace, "service", u.ref.Name, "generation", rel.d.Generation)
}

// abandon stops a release that did not take.
func (u *unit) abandon(rel *release) {
	u.mu.Lock()
	if u.next == rel {
		u.next = nil
	}
	u.mu.Unlock()
	u.stopRelease(rel)
}

// failed records why d's rollout failed, unless a newer deployment or a
// deletion stopped it.
func (u *unit) failed(ctx context.Context, d runtime.Deployment, err error) {
	if ctx.Err() != nil {
		return
	}
	reason := u.reasonOf(err)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.phase = ""
	if u.current != nil {
		reason = platform.NotTaken(d.Generation, u.current.d.Generation, reason)
	}
	u.reason = reason
	u.b.log.Warn("rollout failed", "namespace", u.ref.Namespace, "service", u.ref.Name, "generation", d.Generation, "error", err)
}

// reasonOf turns a rollout's error into what the developer reads: the
// compiler's first lines, a refused source, or a generic sentence for the
// server's own failures, whose detail goes to the log.
func (u *unit) reasonOf(err error) string {
	var be *build.Error
	var nr notRunningError
	switch {
	case errors.As(err, &be):
		return be.Output
	case errors.As(err, &nr), errors.Is(err, runtime.ErrInvalid), errors.Is(err, build.ErrInvalidModule):
		return err.Error()
	}
	return "the runtime failed to deploy it; the platform's log has the detail"
}

// setPhase records the phase of the rollout in progress.
func (u *unit) setPhase(s runtime.State) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.phase = s
}

// removeBinaries removes the service's binaries except keep.
func (u *unit) removeBinaries(keep string) {
	entries, _ := os.ReadDir(filepath.Join(u.ns.Dir, "bin"))
	for _, e := range entries {
		rel := "bin/" + e.Name()
		if strings.HasPrefix(e.Name(), u.ref.Name+".") && rel != keep {
			u.ns.RemoveAll(rel)
		}
	}
}

// removeSources removes the service's fetched sources except keep.
func (u *unit) removeSources(keep string) {
	entries, _ := os.ReadDir(u.ns.SourceDir)
	for _, e := range entries {
		dir := filepath.Join(u.ns.SourceDir, e.Name())
		if strings.HasPrefix(e.Name(), u.ref.Name+"_") && dir != keep {
			os.RemoveAll(dir)
		}
	}
}
