package envfile

import (
	"path/filepath"
	"testing"

	"github.com/gofrs/flock"
)

// TestLockWaitsForTheHolder takes the lock, shows that nobody else can take
// it while it is held, and that a waiting taker gets it once it is released.
func TestLockWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json.lock")
	unlock, err := lock(path)
	if err != nil {
		t.Fatalf("lock() = %v", err)
	}
	if ok, err := flock.New(path).TryLock(); ok || err != nil {
		t.Fatalf("TryLock() while the lock is held = %v, %v, want false, nil", ok, err)
	}
	got := make(chan error, 1)
	go func() {
		second, err := lock(path)
		if err == nil {
			second()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Errorf("second lock() after the release = %v, want nil", err)
	}
}
