package service

import (
	"testing"
	"time"
)

// SetClock makes the services New creates until the test ends renew their
// tokens by now instead of the real clock.
func SetClock(t testing.TB, now func() time.Time) {
	old := timeNow
	timeNow = now
	t.Cleanup(func() { timeNow = old })
}
