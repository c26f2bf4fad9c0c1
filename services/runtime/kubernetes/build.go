package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/build"
)

// Builder builds a deployment's source into a binary on this machine, as
// the local backend does; LocalBuilder is one.
type Builder interface {
	// Build returns the path of d's binary. A build that fails because
	// of the source returns a *build.Error with the compiler's output.
	Build(ctx context.Context, d runtime.Deployment) (string, error)
}

// building is a deployment whose binary is being built, or failed to
// build, before its objects are written.
type building struct {
	generation uint64
	reason     string // why the build failed; "" while it runs
	cancel     context.CancelFunc
}

// builds tracks the deployments being built.
type builds struct {
	mu sync.Mutex
	m  map[runtime.Ref]*building
	wg sync.WaitGroup
}

// artifactPath is where the runtime keeps d's binary for its pods to
// fetch (artifact.Handler over Options.ArtifactDir).
func (b *Backend) artifactPath(d runtime.Deployment) string {
	return filepath.Join(b.opts.ArtifactDir, d.Ref.Namespace, d.Ref.Name, sourceSegment(d.Source.ID()))
}

// sourceSegment makes a source id a path segment the artifact handler
// accepts.
func sourceSegment(id string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(id))
}

// needsBuild reports whether d's binary has yet to be built.
func (b *Backend) needsBuild(d runtime.Deployment) bool {
	if b.opts.Builder == nil {
		return false
	}
	_, err := os.Stat(b.artifactPath(d))
	return err != nil
}

// startBuild builds d in the background and then writes its objects, or
// records why the build failed. A newer deployment, or a Delete, cancels
// it.
func (b *Backend) startBuild(d runtime.Deployment, cur *appsv1.Deployment) {
	ctx, cancel := context.WithCancel(context.Background())
	b.builds.mu.Lock()
	if old := b.builds.m[d.Ref]; old != nil {
		old.cancel()
	}
	state := &building{generation: d.Generation, cancel: cancel}
	b.builds.m[d.Ref] = state
	b.builds.mu.Unlock()
	b.builds.wg.Go(func() {
		defer cancel()
		err := b.buildAndApply(ctx, d, cur)
		b.builds.mu.Lock()
		defer b.builds.mu.Unlock()
		if b.builds.m[d.Ref] != state || ctx.Err() != nil {
			return
		}
		if err == nil {
			delete(b.builds.m, d.Ref)
			return
		}
		state.reason = reasonOf(err)
		b.log.Warn("build for kubernetes failed", "namespace", d.Ref.Namespace, "service", d.Ref.Name, "generation", d.Generation, "error", err)
	})
}

// buildAndApply builds d's binary, puts it where the pods fetch it from,
// and writes d's objects.
func (b *Backend) buildAndApply(ctx context.Context, d runtime.Deployment, cur *appsv1.Deployment) error {
	bin, err := b.opts.Builder.Build(ctx, d)
	if err != nil {
		return err
	}
	if err := copyFile(bin, b.artifactPath(d)); err != nil {
		return fmt.Errorf("keep the binary of %s: %w", d.Ref, err)
	}
	if cur, err = b.current(ctx, d.Ref); err != nil {
		return err
	}
	_, err = b.writeObjects(ctx, d, cur)
	return err
}

// reasonOf is what the developer reads about a failed build: the
// compiler's lines, or a sentence for the platform's own failures.
func reasonOf(err error) string {
	var be *build.Error
	if errors.As(err, &be) {
		return be.Output
	}
	return "the runtime failed to build or deploy it; the platform's log has the detail"
}

// buildStatus returns the build of ref newer than what runs, if any.
func (b *Backend) buildStatus(ref runtime.Ref) (building, bool) {
	b.builds.mu.Lock()
	defer b.builds.mu.Unlock()
	s := b.builds.m[ref]
	if s == nil {
		return building{}, false
	}
	return *s, true
}

// dropBuild cancels ref's build, if any, and forgets it.
func (b *Backend) dropBuild(ref runtime.Ref) {
	b.builds.mu.Lock()
	defer b.builds.mu.Unlock()
	if s := b.builds.m[ref]; s != nil {
		s.cancel()
		delete(b.builds.m, ref)
	}
}

// Close cancels the builds in progress and waits for them.
func (b *Backend) Close() {
	b.builds.mu.Lock()
	for _, s := range b.builds.m {
		s.cancel()
	}
	b.builds.mu.Unlock()
	b.builds.wg.Wait()
}

// copyFile copies src to dst through a temporary file beside it.
func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".binary-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
