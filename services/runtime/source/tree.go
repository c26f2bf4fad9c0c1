package source

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// finishTree turns a checkout into a source tree: it refuses submodules,
// removes .git, holds the tree to the limits, refuses symlinks leading out
// of it, and normalises modes as Extract does.
func finishTree(dir string, lim Limits) error {
	if err := checkSubmodules(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	t := &treeCheck{root: root, lim: lim}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return t.visit(filepath.ToSlash(rel), d)
	})
}

// checkSubmodules fails when the checkout declares any submodule, since
// the runtime neither fetches them nor builds without them.
func checkSubmodules(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, ".gitmodules"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if bytes.Contains(data, []byte("[submodule")) {
		return fmt.Errorf(".gitmodules declares submodules: %w", ErrSubmodules)
	}
	return nil
}

// treeCheck holds the counts of a walk over a checked-out tree.
type treeCheck struct {
	root    *os.Root
	lim     Limits
	entries int
	bytes   int64
}

// visit checks one entry of the tree.
func (t *treeCheck) visit(rel string, d fs.DirEntry) error {
	if rel == "." {
		return os.Chmod(t.root.Name(), 0o755)
	}
	if t.entries++; t.entries > t.lim.Files {
		return invalid(rel, "the tree holds more than %d entries", t.lim.Files)
	}
	info, err := d.Info()
	if err != nil {
		return err
	}
	switch {
	case info.IsDir():
		return t.root.Chmod(rel, 0o755)
	case info.Mode().IsRegular():
		if t.bytes += info.Size(); t.bytes > t.lim.UnpackedBytes {
			return invalid(rel, "the tree is over the %s limit", mib(t.lim.UnpackedBytes))
		}
		return t.root.Chmod(rel, fileMode(int64(info.Mode().Perm())))
	case info.Mode()&fs.ModeSymlink != 0:
		// os.Root follows the link and fails if it leaves the tree; a link
		// to nothing inside the tree is harmless.
		if _, err := t.root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return invalid(rel, "the symlink leads out of the tree")
		}
		return nil
	}
	return invalid(rel, "only files, directories and symlinks are allowed")
}
