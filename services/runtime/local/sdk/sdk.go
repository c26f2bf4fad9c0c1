// Package sdk puts what users' builds need from the platform where the
// namespaces' uids can read it: the SDK modules the platform ships
// (m3o.dev/pkg and m3o.dev/proto, embedded in this binary), and the
// third-party modules they require, copied from a Go module cache into a
// directory that serves as a file:// GOPROXY.
//
// Neither may live under the server's data directory or under /root: a
// build runs as its namespace's uid, which must be able to read them.
package sdk

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"m3o.dev/pkg"
	"m3o.dev/proto"
)

// Version is the version the shipped SDK is released as.
const Version = pkg.Version

// modules are the shipped modules, by the directory they go to.
var modules = []struct {
	dir  string
	tree fs.FS
}{{"pkg", pkg.Tree}, {"proto", proto.Tree}}

// Install writes the shipped SDK modules under dir, in a directory named
// after their content, and returns that directory: it holds pkg/ and
// proto/, each with its go.mod, readable by everyone and writable by
// no one but the server. A directory already written by the same binary
// is reused.
func Install(dir string) (string, error) {
	sum, err := digest()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, sum)
	if _, err := os.Stat(filepath.Join(dst, "proto", "go.mod")); err == nil {
		return dst, nil
	}
	tmp, err := os.MkdirTemp(dir, ".sdk-")
	if err != nil {
		return "", fmt.Errorf("install the SDK: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, m := range modules {
		if err := copyTree(m.tree, filepath.Join(tmp, m.dir)); err != nil {
			return "", fmt.Errorf("install the SDK: %w", err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("install the SDK: %w", err)
	}
	return dst, nil
}

// digest names the shipped content: a short hash of every file's path and
// bytes.
func digest() (string, error) {
	h := sha256.New()
	for _, m := range modules {
		err := fs.WalkDir(m.tree, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(m.tree, p)
			fmt.Fprintf(h, "%s/%s %d\n", m.dir, p, len(data))
			h.Write(data)
			return err
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// copyTree writes tree under dst: directories 0755, files 0644.
func copyTree(tree fs.FS, dst string) error {
	return fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(tree, p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// SeedModules puts into to, from the module download cache from (a
// GOMODCACHE's cache/download), every module version the shipped SDK's
// go.sum files name that from holds: its .info, .mod, .zip and .ziphash
// files, readable by everyone, hard-linked where it can. What from lacks is fetched at build time
// from the upstream proxy, if the platform has one. It returns how many
// module versions it found.
func SeedModules(from, to string) (int, error) {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return 0, err
	}
	versions, err := sdkRequirements()
	if err != nil {
		return 0, err
	}
	found := 0
	for _, mv := range versions {
		ok, err := seedOne(from, to, mv)
		if err != nil {
			return found, err
		}
		if ok {
			found++
		}
	}
	return found, nil
}

// modVersion is a module path at a version.
type modVersion struct{ Path, Version string }

// escape is the module cache's case encoding of a path or version: each
// upper-case letter becomes "!" and its lower case.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sdkRequirements lists the module versions of the SDK modules' go.sum
// files.
func sdkRequirements() ([]modVersion, error) {
	seen := map[modVersion]bool{}
	var out []modVersion
	for _, m := range modules {
		data, err := fs.ReadFile(m.tree, "go.sum")
		if err != nil {
			return nil, fmt.Errorf("%s/go.sum: %w", m.dir, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue
			}
			mv := modVersion{Path: f[0], Version: strings.TrimSuffix(f[1], "/go.mod")}
			if !seen[mv] {
				seen[mv] = true
				out = append(out, mv)
			}
		}
	}
	return out, nil
}

// seedOne copies one module version's files, reporting whether from held
// any.
func seedOne(from, to string, mv modVersion) (bool, error) {
	escVersion := escape(mv.Version)
	rel := filepath.Join(filepath.FromSlash(escape(mv.Path)), "@v")
	found := false
	for _, ext := range []string{".info", ".mod", ".zip", ".ziphash"} {
		ok, err := copyFile(filepath.Join(from, rel, escVersion+ext), filepath.Join(to, rel, escVersion+ext))
		if err != nil {
			return found, err
		}
		found = found || ok
	}
	return found, nil
}

// copyFile puts src at dst unless dst exists, reporting whether src
// existed: a hard link when src is readable by everyone and on the same
// file system, which costs no space, a copy (0644) otherwise.
func copyFile(src, dst string) (bool, error) {
	info, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(dst); err == nil {
		return true, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return true, err
	}
	if info.Mode().Perm()&0o004 != 0 && os.Link(src, dst) == nil {
		return true, nil
	}
	return true, copyContent(src, dst)
}

// copyContent copies src to a new file dst, mode 0644.
func copyContent(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".seed-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
