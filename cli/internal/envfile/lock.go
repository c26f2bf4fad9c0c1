package envfile

import (
	"context"
	"fmt"
	"time"

	"github.com/gofrs/flock"
)

// Lock timing. A lock is held for one token refresh at most, which a call
// timeout of 30 seconds bounds, so a waiter outlasts a slow refresh.
const (
	lockPoll = 20 * time.Millisecond
	lockWait = 40 * time.Second
)

// lock takes an exclusive advisory lock on the file at path, created if
// missing, and returns the function that releases it. The operating system
// releases the lock when its holder exits, so a micro command that dies
// holding it leaves nothing behind to clean up.
func lock(path string) (unlock func(), err error) {
	fl := flock.New(path, flock.SetPermissions(fileMode))
	ctx, cancel := context.WithTimeout(context.Background(), lockWait)
	defer cancel()
	ok, err := fl.TryLockContext(ctx, lockPoll)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("lock %s: another micro command has held it for %s", path, lockWait)
	}
	return func() { fl.Unlock() }, nil
}
