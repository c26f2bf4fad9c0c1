package source_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"m3o.dev/services/runtime/source"
)

// FuzzExtract feeds arbitrary bytes to Extract and checks its promises: an
// error is always ErrInvalidSource and leaves nothing behind; an accepted
// archive holds only plain files, directories and symlinks that stay
// inside the tree, with no special mode bits, and nothing appears beside
// it. The seed corpus in testdata/fuzz/FuzzExtract covers each refusal.
func FuzzExtract(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		scratch := t.TempDir()
		dst := filepath.Join(scratch, "out")
		lim := source.Limits{CompressedBytes: 1 << 20, UnpackedBytes: 1 << 20, Files: 64}
		if err := source.Extract(bytes.NewReader(data), dst, lim); err != nil {
			if !errors.Is(err, source.ErrInvalidSource) {
				t.Fatalf("Extract() = %v, want nil or ErrInvalidSource", err)
			}
			wantEmpty(t, scratch)
			return
		}
		if entries, _ := os.ReadDir(scratch); len(entries) != 1 {
			t.Fatalf("scratch holds %d entries after Extract, want only the destination", len(entries))
		}
		checkExtracted(t, dst)
	})
}

// checkExtracted fails when a tree breaks one of Extract's promises.
func checkExtracted(t *testing.T, dst string) {
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for rel, mode := range listTree(t, dst) {
		switch {
		case mode&fs.ModeSymlink != 0:
			if _, err := root.Stat(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("symlink %s: Stat through the root = %v, want it inside the tree", rel, err)
			}
		case mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0, mode.Perm()&0o022 != 0:
			t.Fatalf("%s has mode %v, want no special bits and no group or world write", rel, mode)
		case !mode.IsDir() && !mode.IsRegular():
			t.Fatalf("%s has mode %v, want a file, directory or symlink", rel, mode)
		}
	}
}
