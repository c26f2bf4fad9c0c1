package source

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Pack writes a gzipped tar of the folder dir to w, the archive the CLI
// uploads and Extract accepts. It leaves out every .git and whatever the
// .gitignore at dir's root lists. Entries carry no owner, and their paths
// are relative to dir.
//
// Of .gitignore, Pack understands blank lines and # comments; the globs
// *, ? and [...] within one path element; ** as a whole element (leading
// **/, trailing /**, or /**/ in the middle); a trailing / that limits a
// pattern to directories; a leading or inner / that anchors a pattern to
// dir, while a pattern without one matches at any depth; a leading ! that
// re-includes what an earlier pattern left out; and a leading \ that
// escapes ! or #. The last matching pattern decides. It does not read
// .gitignore files below the root, nor escaped trailing spaces, and, as in
// git, nothing inside a left-out directory can be re-included. A symlink leading out of dir, a named pipe, a socket or a device
// stops it with an error naming the file, since the platform would refuse
// the archive anyway.
func Pack(w io.Writer, dir string) error {
	ignore, err := readGitignore(dir)
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.Name() == ".git" || ignore.ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return addEntry(tw, p, rel, d)
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return fmt.Errorf("pack %q: %w", dir, err)
	}
	return nil
}

// readGitignore reads the rules of dir/.gitignore; a folder without one
// ignores nothing but .git.
func readGitignore(dir string) (ignoreList, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pack %q: %w", dir, err)
	}
	return parseGitignore(string(data)), nil
}

// addEntry writes one file, directory or symlink.
func addEntry(tw *tar.Writer, p, rel string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: rel, Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
	switch mode := info.Mode(); {
	case mode.IsDir():
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case mode.IsRegular():
		hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	case mode&fs.ModeSymlink != 0:
		if hdr.Linkname, err = insideLink(p, rel); err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
	default:
		return fmt.Errorf("%q is a %s; only files, folders and symlinks can be uploaded", rel, kind(mode))
	}
	if err := tw.WriteHeader(hdr); err != nil || hdr.Typeflag != tar.TypeReg {
		return err
	}
	return copyFile(tw, p, info.Size())
}

// insideLink returns the symlink's target, or an error when it leads out
// of the folder.
func insideLink(p, rel string) (string, error) {
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	resolved := path.Join(path.Dir(rel), filepath.ToSlash(target))
	if filepath.IsAbs(target) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return "", fmt.Errorf("%q is a symlink to %q, outside the folder; the platform refuses such links", rel, target)
	}
	return target, nil
}

// copyFile writes exactly size bytes of the file at p, so a file that
// grows while being packed cannot break the archive.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err == nil && n < size {
		err = fmt.Errorf("%q shrank while being packed", p)
	}
	return err
}

// kind names a file type for an error message.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
