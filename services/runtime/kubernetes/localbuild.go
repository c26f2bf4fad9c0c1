package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/build"
	"m3o.dev/services/runtime/local/sandbox"
)

// LocalBuilder builds sources on the runtime's machine with the local
// backend's builder, in its sandbox: the same SDK, caches per namespace
// and uids per namespace when the runtime runs as root.
type LocalBuilder struct {
	sb     *sandbox.Sandbox
	b      *build.Builder
	logDir string

	mu    sync.Mutex
	locks map[runtime.Ref]*sync.Mutex
}

var _ Builder = (*LocalBuilder)(nil)

// NewLocalBuilder keeps its sandbox and build logs under dir; opts are the
// builder's, whose Sandbox it sets.
func NewLocalBuilder(dir string, opts build.Options) (*LocalBuilder, error) {
	sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		return nil, fmt.Errorf("local builder: %w", err)
	}
	opts.Sandbox = sb
	b, err := build.New(opts)
	if err != nil {
		return nil, fmt.Errorf("local builder: %w", err)
	}
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, fmt.Errorf("local builder: %w", err)
	}
	return &LocalBuilder{sb: sb, b: b, logDir: logDir, locks: map[runtime.Ref]*sync.Mutex{}}, nil
}

// Build implements Builder: it fetches the source into the namespace's
// source directory, unless it is there from before, and builds it.
func (l *LocalBuilder) Build(ctx context.Context, d runtime.Deployment) (string, error) {
	defer l.lock(d.Ref)()
	ns, err := l.sb.Namespace(d.Ref.Namespace)
	if err != nil {
		return "", err
	}
	src := filepath.Join(ns.SourceDir, d.Ref.Name+"_"+sourceSegment(d.Source.ID()))
	if _, err := os.Stat(src); err != nil {
		if err := d.Source.Fetch(ctx, src); err != nil {
			return "", fmt.Errorf("fetch the source of %s: %w", d.Ref, err)
		}
	}
	logPath := filepath.Join(l.logDir, d.Ref.Namespace+"."+d.Ref.Name+".log")
	res, err := l.b.Build(ctx, build.Request{Namespace: ns, Service: d.Ref.Name, Source: src, LogPath: logPath})
	if err != nil {
		return "", err
	}
	return res.Binary, nil
}

// lock serialises the builds of one service, which share a build
// directory; it returns the unlock.
func (l *LocalBuilder) lock(ref runtime.Ref) func() {
	l.mu.Lock()
	m := l.locks[ref]
	if m == nil {
		m = &sync.Mutex{}
		l.locks[ref] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}
