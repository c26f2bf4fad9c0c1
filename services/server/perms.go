package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tighten makes the data dir and everything under it private to the
// server's user: directories 0700 and files 0600, whatever an earlier
// version, a restore or an operator left there. The one exception is the
// platform CA's certificate at the top, which clients need to read.
func tighten(dataDir string) error {
	public := filepath.Join(dataDir, "ca.pem")
	return filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by a running store or etcd meanwhile
		}
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			mode = 0o700
		case d.Type()&fs.ModeSymlink != 0:
			return nil // a link's own mode means nothing; its target is walked if it is here
		case path == public:
			mode = 0o644
		}
		if err := os.Chmod(path, mode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("tighten the data dir: %w", err)
		}
		return nil
	})
}
