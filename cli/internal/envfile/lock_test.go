package envfile

import (
	"path/filepath"
	"testing"
	"time"
)

// TestLockWaitsForTheHolder takes the lock, starts a second taker, and
// checks that it gets the lock only after the first lets go.
func TestLockWaitsForTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json.lock")
	unlock, err := lock(path)
	if err != nil {
		t.Fatalf("lock() = %v", err)
	}
	got := make(chan time.Time, 1)
	go func() {
		second, err := lock(path)
		if err != nil {
			t.Errorf("second lock() = %v", err)
		}
		got <- time.Now()
		second()
	}()
	time.Sleep(100 * time.Millisecond) // let the second taker try and wait
	releasedAt := time.Now()
	unlock()
	if at := <-got; at.Before(releasedAt) {
		t.Errorf("second lock() returned at %v, before the first was released at %v", at, releasedAt)
	}
}
