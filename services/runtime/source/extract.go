package source

import (
	"archive/tar"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Entry names longer than this, or deeper than maxDepth, are refused: no
// source tree needs them, and deep trees cost quadratic work to create
// through os.Root.
const (
	maxNameBytes = 4096
	maxDepth     = 100
)

// Extract reads a gzipped tar stream from r and writes its contents to dst,
// which must not exist yet. It writes into a fresh directory beside dst and
// renames it to dst only when the whole archive was accepted, so a refused
// archive leaves nothing behind.
//
// Only regular files, directories and symlinks whose target stays inside
// the tree are accepted. Permissions are normalised: directories are 0755,
// files 0644 or 0755 when the archive marks them executable, so setuid,
// setgid and sticky bits and group or world write never survive. A
// symlink's target is rewritten to its shortest relative form, which keeps
// it inside the tree whatever the other links point at. Bad input returns
// an error matching ErrInvalidSource that names the entry and the reason.
func Extract(r io.Reader, dst string, lim Limits) error {
	lim, err := lim.withDefaults()
	if err != nil {
		return err
	}
	if err := checkFresh(dst); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".extract-")
	if err != nil {
		return fmt.Errorf("extract to %q: %w", dst, err)
	}
	err = extractInto(r, tmp, lim)
	if err == nil {
		err = os.Chmod(tmp, 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.RemoveAll(tmp)
	}
	if err != nil && !errors.Is(err, ErrInvalidSource) {
		// Only the server's own failures name its paths; a refusal goes
		// back to the developer as it is.
		return fmt.Errorf("extract to %q: %w", dst, err)
	}
	return err
}

// checkFresh fails unless nothing exists at dst yet.
func checkFresh(dst string) error {
	_, err := os.Lstat(dst)
	switch {
	case err == nil:
		return fmt.Errorf("destination %q: %w", dst, fs.ErrExist)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("destination %q: %w", dst, err)
	}
	return nil
}

// extractor writes one archive's entries into root and keeps the counts
// the limits apply to.
type extractor struct {
	root    *os.Root
	lim     Limits
	entries int
	written int64
	dirs    map[string]bool
	links   map[string]bool
}

// extractInto does the work of Extract inside dir, which it owns.
func extractInto(r io.Reader, dir string, lim Limits) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	src := &capReader{r: r, left: lim.CompressedBytes, source: true,
		over: fmt.Errorf("archive is over the %s compressed limit: %w", mib(lim.CompressedBytes), ErrInvalidSource)}
	x := &extractor{root: root, lim: lim, dirs: map[string]bool{}, links: map[string]bool{}}
	return classify(x.read(src), src)
}

// read walks the archive, entry by entry.
func (x *extractor) read(src *capReader) error {
	gz, err := gzip.NewReader(src)
	if err != nil {
		return err
	}
	defer gz.Close()
	// Headers and padding cost stream bytes that no file counts, so the
	// decompressed stream gets a margin above the file limit; past it the
	// archive is a bomb whatever its entries say.
	unpacked := &capReader{r: gz, left: x.lim.UnpackedBytes + int64(x.lim.Files)*2048 + 16<<20,
		over: fmt.Errorf("archive unpacks past the %s limit: %w", mib(x.lim.UnpackedBytes), ErrInvalidSource)}
	tr := tar.NewReader(unpacked)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
}

// entry checks and writes one archive entry.
func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil || name == "." {
		return err
	}
	x.entries++
	if x.entries > x.lim.Files {
		return invalid(name, "the archive holds more than %d entries", x.lim.Files)
	}
	if link := x.linkOnPath(name); link != "" {
		return invalid(name, "it goes through the symlink %q", link)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdirs(name)
	case tar.TypeReg:
		return x.file(name, hdr, body)
	case tar.TypeSymlink:
		return x.symlink(name, hdr.Linkname)
	case tar.TypeLink:
		return invalid(name, "hard links are not allowed")
	case tar.TypeChar, tar.TypeBlock:
		return invalid(name, "device files are not allowed")
	case tar.TypeFifo:
		return invalid(name, "named pipes (fifos) are not allowed")
	}
	return invalid(name, "entry type %q is not allowed", hdr.Typeflag)
}

// cleanName refuses names that are absolute, climb with "..", or are too
// long or deep, and returns the others cleaned.
func cleanName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", invalid(raw, "the name is empty")
	case strings.HasPrefix(raw, "/"):
		return "", invalid(raw, "absolute paths are not allowed")
	case len(raw) > maxNameBytes:
		return "", invalid(raw[:64]+"…", "the name is longer than %d bytes", maxNameBytes)
	case strings.ContainsRune(raw, 0):
		return "", invalid(raw, "the name holds a NUL byte")
	}
	parts := strings.Split(raw, "/")
	for _, p := range parts {
		if p == ".." {
			return "", invalid(raw, "paths containing .. are not allowed")
		}
	}
	if len(parts) > maxDepth {
		return "", invalid(raw, "the path is deeper than %d directories", maxDepth)
	}
	return path.Clean(raw), nil
}

// linkOnPath returns name or the first of its parents that is a symlink
// this archive made, or "". Refusing entries below a symlink keeps each
// entry's real parent equal to its lexical one, which the symlink check
// relies on.
func (x *extractor) linkOnPath(name string) string {
	for p := name; p != "."; p = path.Dir(p) {
		if x.links[p] {
			return p
		}
	}
	return ""
}

// mkdirs creates dir and its missing parents with mode 0755, whatever the
// server's umask.
func (x *extractor) mkdirs(dir string) error {
	if dir == "." || x.dirs[dir] {
		return nil
	}
	if err := x.mkdirs(path.Dir(dir)); err != nil {
		return err
	}
	err := x.root.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		return invalid(dir, "it clashes with a file of the same name")
	}
	if err == nil {
		err = x.root.Chmod(dir, 0o755)
	}
	if err != nil {
		return fsError(dir, err)
	}
	x.dirs[dir] = true
	return nil
}

// file writes a regular file, counting its bytes against the limit before
// and while writing.
func (x *extractor) file(name string, hdr *tar.Header, body io.Reader) error {
	if hdr.Size > x.lim.UnpackedBytes-x.written {
		return invalid(name, "the archive unpacks past the %s limit", mib(x.lim.UnpackedBytes))
	}
	if err := x.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	// O_EXCL refuses a second entry of the same name, and never follows
	// a symlink.
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fsError(name, err)
	}
	n, err := io.Copy(f, body)
	x.written += n
	if err == nil {
		err = f.Chmod(fileMode(hdr.Mode))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileMode keeps a file's executable bits and nothing that grants more:
// no setuid, setgid or sticky bit, no write for group or others.
func fileMode(m int64) fs.FileMode {
	return fs.FileMode(m)&0o755 | 0o644
}

// symlink creates a symlink whose target must resolve inside the tree, and
// writes that target in its shortest relative form.
func (x *extractor) symlink(name, target string) error {
	if target == "" {
		return invalid(name, "the symlink has an empty target")
	}
	resolved := path.Join(path.Dir(name), target)
	if path.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return invalid(name, "the symlink to %q leads out of the tree", target)
	}
	if err := x.mkdirs(path.Dir(name)); err != nil {
		return err
	}
	if err := x.root.Symlink(relPath(path.Dir(name), resolved), name); err != nil {
		return fsError(name, err)
	}
	x.links[name] = true
	return nil
}

// relPath returns target relative to dir; both are clean paths relative to
// the tree's root. The result is a run of ".." followed by plain names, so
// the kernel resolves it exactly as written.
func relPath(dir, target string) string {
	split := func(p string) []string {
		if p == "." {
			return nil
		}
		return strings.Split(p, "/")
	}
	d, t := split(dir), split(target)
	for len(d) > 0 && len(t) > 0 && d[0] == t[0] {
		d, t = d[1:], t[1:]
	}
	parts := make([]string, 0, len(d)+len(t))
	for range d {
		parts = append(parts, "..")
	}
	if parts = append(parts, t...); len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// fsError turns the file system's answer about an entry into the reason
// an archive is refused, when the archive caused it.
func fsError(name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrExist):
		return invalid(name, "the name appears twice or clashes with another entry")
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return invalid(name, "it clashes with another entry")
	case errors.Is(err, syscall.ENAMETOOLONG):
		return invalid(name, "a name in the path is too long")
	}
	return fmt.Errorf("entry %q: %w", name, err)
}

// classify keeps ErrInvalidSource errors, reports a failing source reader
// as itself, and marks a malformed stream as invalid; anything else (a
// full disk) passes through for the caller to treat as internal.
func classify(err error, src *capReader) error {
	var corrupt flate.CorruptInputError
	switch {
	case err == nil, errors.Is(err, ErrInvalidSource):
		return err
	case src.err != nil:
		return fmt.Errorf("read source: %w", src.err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrHeader),
		errors.Is(err, gzip.ErrChecksum), errors.Is(err, tar.ErrHeader), errors.As(err, &corrupt):
		return fmt.Errorf("not a gzipped tar stream (%v): %w", err, ErrInvalidSource)
	}
	return err
}

// capReader fails with over once more than left bytes would be read. With
// source set it also remembers a failure of the underlying reader, so that
// a broken upload is not blamed on the archive.
type capReader struct {
	r      io.Reader
	left   int64
	over   error
	source bool
	err    error
}

// Read implements io.Reader.
func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var probe [1]byte
		if n, err := c.r.Read(probe[:]); n > 0 {
			return 0, c.over
		} else if err != nil {
			return 0, c.note(err)
		}
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, c.note(err)
}

// note records a source failure other than the end of the stream.
func (c *capReader) note(err error) error {
	if c.source && err != nil && err != io.EOF {
		c.err = err
	}
	return err
}
