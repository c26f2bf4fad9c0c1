package envfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Lock timing. A lock is held for one token refresh at most, which a call
// timeout of 30 seconds bounds, so a waiter outlasts a slow refresh and a
// lock older than staleAfter belonged to a micro command that died holding it.
const (
	lockPoll   = 20 * time.Millisecond
	lockWait   = 40 * time.Second
	staleAfter = time.Minute
)

// lock takes an exclusive lock by creating path, which must not exist, and
// returns the function that releases it. A lock file works the same on every
// operating system the CLI runs on, unlike flock.
func lock(path string) (unlock func(), err error) {
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fileMode)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if removeStale(path) {
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: another micro command holds it; remove the file if none is running", path)
		}
		time.Sleep(lockPoll)
	}
}

// removeStale removes the lock at path if it is older than staleAfter and
// reports whether it did.
func removeStale(path string) bool {
	st, err := os.Stat(path)
	if err != nil || time.Since(st.ModTime()) < staleAfter {
		return false
	}
	return os.Remove(path) == nil
}
