package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/runtime/source"
)

// storedSource is a source kept in the store, as a runtime.Source.
type storedSource struct {
	s  *Service
	ns string
	id string
}

// ID implements Source.
func (src storedSource) ID() string { return src.id }

// Fetch implements Source: it extracts the stored archive within the
// platform's limits.
func (src storedSource) Fetch(ctx context.Context, dst string) error {
	r, err := src.s.sources.open(ctx, src.ns, src.id)
	if errors.Is(err, ErrNotFound) {
		return invalid.Field("service.source", "source %s no longer exists; upload it again", src.id)
	}
	if err != nil {
		return err
	}
	return refusal(source.Extract(r, dst, src.s.opts.Limits))
}

// gitRepoSource is a git source the runtime has not fetched yet, as a
// runtime.Source. Fetching it clones the repository, then keeps the
// checkout in the store like an upload and records it as the
// generation's resolved source, so that a restart rebuilds the same tree
// even if the branch moved.
type gitRepoSource struct {
	s   *Service
	rec record
}

// ID implements Source: a generation fetches its git source once, and a
// later generation fetches it afresh.
func (src gitRepoSource) ID() string {
	return fmt.Sprintf("git-g%d", src.rec.Generation)
}

// Fetch implements Source.
func (src gitRepoSource) Fetch(ctx context.Context, dst string) error {
	repo, ref, err := source.ParseGitURL(src.rec.Source)
	if err == nil {
		err = source.Clone(ctx, repo, ref, dst, src.s.opts.Git)
	}
	if err != nil {
		return refusal(err)
	}
	if err := src.keep(ctx, dst); err != nil {
		os.RemoveAll(dst)
		return err
	}
	return nil
}

// keep packs the checkout into the store and records it as the
// generation's resolved source.
func (src gitRepoSource) keep(ctx context.Context, dir string) error {
	f, err := os.CreateTemp(src.s.opts.TempDir, "git-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := source.Pack(f, dir); err != nil {
		return fmt.Errorf("pack the checkout: %w", err)
	}
	size, err := f.Seek(0, 1)
	if err == nil {
		_, err = f.Seek(0, 0)
	}
	if err != nil {
		return err
	}
	id, err := src.s.sources.save(ctx, src.rec.Namespace, src.rec.Name, f, size)
	if err != nil {
		return err
	}
	return src.s.resolve(ctx, src.rec, id)
}

// refusal marks the errors of a source the developer must fix as invalid
// input, keeping their message, so that the service's error reason says
// what to fix; the server's own failures pass unchanged.
func refusal(err error) error {
	for _, e := range []error{source.ErrInvalidSource, source.ErrInvalidGitURL, source.ErrLocalGitURL, source.ErrSubmodules, source.ErrCloneFailed} {
		if errors.Is(err, e) {
			return invalid.Field("service.source", "%v", err)
		}
	}
	return err
}

// tempDir makes a directory for checking an upload, removed by the
// returned function.
func (s *Service) tempDir() (string, func(), error) {
	dir, err := os.MkdirTemp(s.opts.TempDir, "check-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "tree"), func() { os.RemoveAll(dir) }, nil
}
