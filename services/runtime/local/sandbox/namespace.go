package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Namespace is one tenant's identity and directories in the sandbox.
type Namespace struct {
	// Name is the platform namespace.
	Name string
	// UID and GID are what the namespace's processes run as when the
	// sandbox isolates; they are allocated even when it does not, so they
	// stay the same if the server later runs as root.
	UID, GID uint32
	// Dir is the namespace's private tree, mode 0700, owned by UID when
	// isolating. Its processes may write anything in it.
	Dir string
	// SourceDir is where the server puts the namespace's sources: owned by
	// root, group GID, mode 0750, so the namespace reads and cannot write
	// them, and no other namespace can read them.
	SourceDir string
	isolate   bool
}

// Namespace returns the namespace called name, allocating its uid and
// creating its directories the first time.
func (s *Sandbox) Namespace(name string) (*Namespace, error) {
	if !namespaceName.MatchString(name) {
		return nil, fmt.Errorf("namespace %q: %w", name, ErrInvalidName)
	}
	s.mu.Lock()
	uid, err := s.uids.uid(name, s.cfg.FirstUID, s.cfg.UIDCount)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	n := &Namespace{Name: name, UID: uid, GID: uid, isolate: s.isolate,
		Dir:       filepath.Join(s.cfg.Dir, "ns", name),
		SourceDir: filepath.Join(s.cfg.Dir, "src", name)}
	if err := n.makeDirs(); err != nil {
		return nil, fmt.Errorf("namespace %q: %w", name, err)
	}
	return n, nil
}

// makeDirs creates (or repairs) the namespace's two directories. Their
// parents belong to root, so no namespace can swap them for links.
func (n *Namespace) makeDirs() error {
	if err := ownedDir(n.Dir, 0o700, n.owner(n.UID), n.owner(n.GID)); err != nil {
		return err
	}
	return ownedDir(n.SourceDir, 0o750, os.Geteuid(), n.owner(n.GID))
}

// owner returns id when isolating and the server's own uid otherwise,
// since only root may give files away.
func (n *Namespace) owner(id uint32) int {
	if n.isolate {
		return int(id)
	}
	return os.Geteuid()
}

// ownedDir makes p a directory with exactly this mode and owner.
func ownedDir(p string, mode os.FileMode, uid, gid int) error {
	if err := os.Mkdir(p, mode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return os.Chmod(p, mode)
}

// Mkdir creates the directory rel (slash-separated, relative to Dir) and
// its missing parents, owned by the namespace and mode 0700, and returns
// its path. An existing directory must already belong to the namespace:
// anything else there was planted and is refused.
func (n *Namespace) Mkdir(rel string) (string, error) {
	root, err := n.openRoot(rel)
	if err != nil {
		return "", err
	}
	defer root.Close()
	p := ""
	for _, part := range strings.Split(rel, "/") {
		p = path.Join(p, part)
		if err := n.mkdirOne(root, p); err != nil {
			return "", fmt.Errorf("namespace %q: mkdir %q: %w", n.Name, p, err)
		}
	}
	return filepath.Join(n.Dir, filepath.FromSlash(rel)), nil
}

// openRoot checks rel and opens the namespace's tree as an os.Root, so
// no link inside it can lead the server out.
func (n *Namespace) openRoot(rel string) (*os.Root, error) {
	if err := n.checkRel(rel); err != nil {
		return nil, err
	}
	return os.OpenRoot(n.Dir)
}

// mkdirOne creates one directory, or accepts an existing one owned by the
// namespace.
func (n *Namespace) mkdirOne(root *os.Root, p string) error {
	err := root.Mkdir(p, 0o700)
	if err == nil {
		if err = root.Chmod(p, 0o700); err == nil && os.Geteuid() == 0 {
			err = root.Lchown(p, n.owner(n.UID), n.owner(n.GID))
		}
		return err
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	info, err := root.Lstat(p)
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !info.IsDir() || !ok || int(st.Uid) != n.owner(n.UID) {
		return errors.New("it exists and is not a directory of the namespace")
	}
	return nil
}

// WriteFile writes data to the file rel inside Dir, owned by the namespace
// and mode 0600, replacing whatever was there. It unlinks the old name and
// creates a new file rather than truncating, so a planted hard link to
// someone else's file is never written through.
func (n *Namespace) WriteFile(rel string, data []byte) error {
	root, err := n.openRoot(rel)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("namespace %q: replace %q: %w", n.Name, rel, err)
	}
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("namespace %q: create %q: %w", n.Name, rel, err)
	}
	_, err = f.Write(data)
	if err == nil && os.Geteuid() == 0 {
		err = f.Chown(n.owner(n.UID), n.owner(n.GID))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("namespace %q: write %q: %w", n.Name, rel, err)
	}
	return nil
}

// ReplaceFile writes data to the file rel inside Dir as WriteFile does, but
// atomically for readers: it writes a fresh file beside rel and renames it
// over rel, so a process reading rel sees the old content or the new,
// never a missing or half-written file.
func (n *Namespace) ReplaceFile(rel string, data []byte) error {
	tmp := rel + ".new"
	if err := n.WriteFile(tmp, data); err != nil {
		return err
	}
	return n.Rename(tmp, rel)
}

// Rename renames from to to, both relative to Dir, through os.Root: a link
// the namespace planted is renamed, never followed.
func (n *Namespace) Rename(from, to string) error {
	root, err := n.openRoot(from)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := n.checkRel(to); err != nil {
		return err
	}
	if err := root.Rename(from, to); err != nil {
		return fmt.Errorf("namespace %q: rename %q: %w", n.Name, from, err)
	}
	return nil
}

// RemoveAll removes rel inside Dir and everything under it, through
// os.Root. A missing rel is not an error.
func (n *Namespace) RemoveAll(rel string) error {
	root, err := n.openRoot(rel)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.RemoveAll(rel); err != nil {
		return fmt.Errorf("namespace %q: remove %q: %w", n.Name, rel, err)
	}
	return nil
}

// checkRel checks that rel may name a path inside Dir.
func (n *Namespace) checkRel(rel string) error {
	if rel == "" || !filepath.IsLocal(rel) || strings.Contains(rel, "\\") {
		return fmt.Errorf("namespace %q: %q is not a relative path inside the namespace", n.Name, rel)
	}
	return nil
}
