package pebble

import (
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// privateFS is the default file system with every file the store creates
// readable by its owner only: 0600 files in 0700 directories, whatever the
// process's umask. The store holds every tenant's records and the
// platform's own system databases.
type privateFS struct{ vfs.FS }

// Create implements vfs.FS.
func (fs privateFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return private(fs.FS.Create(name, category))(name)
}

// OpenReadWrite implements vfs.FS.
func (fs privateFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return private(fs.FS.OpenReadWrite(name, category, opts...))(name)
}

// ReuseForWrite implements vfs.FS.
func (fs privateFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	return private(fs.FS.ReuseForWrite(oldname, newname, category))(newname)
}

// MkdirAll implements vfs.FS.
func (fs privateFS) MkdirAll(dir string, _ os.FileMode) error {
	return fs.FS.MkdirAll(dir, 0o700)
}

// private returns a function that sets the file just opened to mode 0600.
func private(f vfs.File, err error) func(name string) (vfs.File, error) {
	return func(name string) (vfs.File, error) {
		if err != nil {
			return f, err
		}
		if err := os.Chmod(name, 0o600); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}
