package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/gofrs/flock"
)

// ErrRunning means a micro server is running on the data dir, which a
// command that must have it stopped refuses.
var ErrRunning = errors.New("micro server is running on this data dir")

// lockFile is the file under the data dir that a running server holds
// locked. The operating system frees the lock when its holder dies, so a
// crash leaves nothing stale.
const lockFile = "server.lock"

// lockDataDir takes the data dir's lock, or fails with ErrRunning when a
// server holds it; the returned func releases it.
func lockDataDir(dataDir string) (unlock func(), err error) {
	l := flock.New(filepath.Join(dataDir, lockFile))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock the data dir %s: %w", dataDir, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrRunning, dataDir)
	}
	return func() { l.Unlock() }, nil
}
