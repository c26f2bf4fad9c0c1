package proxy

import (
	"fmt"
	"sync"
)

// DefaultMaxStreams is how many streams (Watch, Logs) one account, or one
// anonymous address, may hold open through the proxy at once.
const DefaultMaxStreams = 32

// streamCounter bounds the open streams of each caller, so that no one
// caller can hold the proxy's goroutines and the backends' watches.
type streamCounter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newStreamCounter(max int) *streamCounter {
	return &streamCounter{max: max, open: make(map[string]int)}
}

// tooManyStreamsError is a caller at its limit of open streams.
type tooManyStreamsError struct{ max int }

func (e *tooManyStreamsError) Error() string {
	return fmt.Sprintf("at most %d streams may be open at once; close one first", e.max)
}

func (e *tooManyStreamsError) Unwrap() error { return ErrRateLimited }

// acquire takes one of key's streams and returns the function that gives
// it back; 0 max means no limit.
func (s *streamCounter) acquire(key string) (release func(), err error) {
	if s.max <= 0 {
		return func() {}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[key] >= s.max {
		return nil, &tooManyStreamsError{max: s.max}
	}
	s.open[key]++
	return func() { s.release(key) }, nil
}

func (s *streamCounter) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[key]--; s.open[key] <= 0 {
		delete(s.open, key)
	}
}
