package skeleton

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// digestFile names the content of an installed SDK directory.
const digestFile = "DIGEST"

// InstallSDK writes the SDK modules this micro ships into
// root/<SDKVersion> (pkg/ and proto/) and returns that directory. A
// directory holding the same content is kept as it is; one holding other
// content, from another build of micro, is replaced.
func InstallSDK(root string) (string, error) {
	sum, err := sdkDigest()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(root, SDKVersion)
	if have, err := os.ReadFile(filepath.Join(dst, digestFile)); err == nil && bytes.Equal(bytes.TrimSpace(have), []byte(sum)) {
		return dst, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("install the SDK: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".sdk-")
	if err != nil {
		return "", fmt.Errorf("install the SDK: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeSDK(tmp, sum); err != nil {
		return "", fmt.Errorf("install the SDK: %w", err)
	}
	if err := replaceDir(tmp, dst); err != nil {
		return "", fmt.Errorf("install the SDK: %w", err)
	}
	return dst, nil
}

// writeSDK writes the modules and the digest under dir.
func writeSDK(dir, sum string) error {
	for _, m := range sdkTrees {
		if err := copyTree(m.tree, filepath.Join(dir, m.dir)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, digestFile), []byte(sum+"\n"), 0o644); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// replaceDir renames src to dst, moving an older dst out of the way first.
func replaceDir(src, dst string) error {
	old := src + ".old"
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	defer os.RemoveAll(old)
	return os.Rename(src, dst)
}

// sdkDigest names the shipped content: a short hash of every file's path
// and bytes.
func sdkDigest() (string, error) {
	h := sha256.New()
	for _, m := range sdkTrees {
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
