package local

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/logs"
	"m3o.dev/services/runtime/local/sandbox"
)

// unit is one service in the backend: the release serving, a rollout in
// progress, the instances' logs and the certificates they share.
type unit struct {
	b      *Backend
	ref    runtime.Ref
	ns     *sandbox.Namespace
	logDir string
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	generation uint64        // newest deployment given
	phase      runtime.State // of the rollout in progress; "" when none
	reason     string        // why the latest rollout failed
	current    *release      // serving
	next       *release      // starting, during an update
	stopRoll   context.CancelFunc
	rollDone   chan struct{}
	logs       map[int]*logs.Log
	logsAdded  chan struct{} // closed and replaced whenever logs grows
	certsOn    bool
	deleted    bool
}

func newUnit(b *Backend, ref runtime.Ref, ns *sandbox.Namespace) *unit {
	ctx, cancel := context.WithCancel(b.ctx)
	return &unit{
		b: b, ref: ref, ns: ns, ctx: ctx, cancel: cancel,
		logDir: filepath.Join(b.opts.Dir, "logs", ref.Namespace, ref.Name),
		logs:   map[int]*logs.Log{}, logsAdded: make(chan struct{}),
	}
}

// apply starts a rollout of d, replacing one in progress, unless d is not
// newer than what the unit was given.
func (u *unit) apply(d runtime.Deployment) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if d.Generation <= u.generation || u.deleted {
		return
	}
	prevStop, prevDone := u.stopRoll, u.rollDone
	ctx, stop := context.WithCancel(u.ctx)
	done := make(chan struct{})
	u.generation, u.phase, u.reason, u.stopRoll, u.rollDone = d.Generation, runtime.StatePending, "", stop, done
	u.b.wg.Add(1)
	go func() {
		defer u.b.wg.Done()
		defer close(done)
		if prevStop != nil {
			prevStop()
			<-prevDone
		}
		u.rollout(ctx, d)
	}()
}

// stopRollout cancels the rollout in progress and waits for it.
func (u *unit) stopRollout() {
	u.mu.Lock()
	stop, done := u.stopRoll, u.rollDone
	u.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// destroy stops everything of the service and removes its files: its
// binaries, certificates, fetched sources and logs.
func (u *unit) destroy(ctx context.Context) {
	u.mu.Lock()
	u.deleted = true
	u.mu.Unlock()
	u.shutdown()
	u.removeFiles()
	u.b.log.InfoContext(ctx, "service removed", "namespace", u.ref.Namespace, "service", u.ref.Name)
}

// shutdown stops the rollout, every instance and the certificate
// renewal, and closes the logs.
func (u *unit) shutdown() {
	u.stopRollout()
	u.mu.Lock()
	rels := []*release{u.current, u.next}
	u.current, u.next = nil, nil
	u.mu.Unlock()
	for _, rel := range rels {
		if rel != nil {
			u.stopRelease(rel)
		}
	}
	u.cancel()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, l := range u.logs {
		l.Close()
	}
}

// removeFiles removes what the unit left on disk.
func (u *unit) removeFiles() {
	for _, rel := range []string{"tls/" + u.ref.Name, "build/" + u.ref.Name} {
		if err := u.ns.RemoveAll(rel); err != nil {
			u.b.log.Warn("remove a deleted service's files", "error", err)
		}
	}
	u.removeBinaries("")
	u.removeSources("")
	if err := os.RemoveAll(u.logDir); err != nil {
		u.b.log.Warn("remove a deleted service's logs", "error", err)
	}
}

// logFor returns instance n's log, opening it on first use.
func (u *unit) logFor(n int) (*logs.Log, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if l, ok := u.logs[n]; ok {
		return l, nil
	}
	l, err := logs.Open(filepath.Join(u.logDir, strconv.Itoa(n)), logs.Options{FileBytes: u.b.opts.LogFileBytes})
	if err != nil {
		return nil, err
	}
	u.logs[n] = l
	close(u.logsAdded)
	u.logsAdded = make(chan struct{})
	return l, nil
}

// buildLog is the path of the latest build's log.
func (u *unit) buildLog() string { return filepath.Join(u.logDir, "build.log") }
