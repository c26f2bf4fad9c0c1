package logs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ErrFellBehind ends a subscription whose reader did not keep up: the log
// never blocks the process writing it, so it drops the reader instead,
// which may follow again from Tail.
var ErrFellBehind = errors.New("the log reader fell behind and was dropped")

// subscriptionBuffer is how many lines a subscriber may lag behind.
const subscriptionBuffer = 4096

// Subscription delivers the lines written to a log after it was made.
type Subscription struct {
	log  *Log
	c    chan Line
	once sync.Once
	err  error
}

// Lines returns the channel of new lines; it is closed when the
// subscription ends.
func (s *Subscription) Lines() <-chan Line { return s.c }

// Err says why Lines was closed: nil after Close, ErrClosed when the log
// was closed, ErrFellBehind when the reader did not keep up. It is only
// meaningful once Lines is closed.
func (s *Subscription) Err() error {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	s.end(nil)
}

// end closes the channel once, recording why; the log's lock is held.
func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.err = err
		delete(s.log.subs, s)
		close(s.c)
	})
}

// publish hands a line to every subscriber without ever waiting; the
// log's lock is held.
func (l *Log) publish(line Line) {
	for s := range l.subs {
		select {
		case s.c <- line:
		default:
			s.end(ErrFellBehind)
		}
	}
}

// Follow returns the last n lines and a subscription to every line after
// them, with nothing lost or repeated in between. The caller must Close
// the subscription.
func (l *Log) Follow(n int) ([]Line, *Subscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil, nil, ErrClosed
	}
	lines, err := l.tail(n)
	if err != nil {
		return nil, nil, err
	}
	s := &Subscription{log: l, c: make(chan Line, subscriptionBuffer)}
	l.subs[s] = struct{}{}
	return lines, s, nil
}

// Tail returns the last n lines of the log, oldest first, reading back
// into previous.log when current.log holds fewer.
func (l *Log) Tail(n int) ([]Line, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tail(n)
}

// tail is Tail with the lock held, which keeps rotation out.
func (l *Log) tail(n int) ([]Line, error) {
	if n <= 0 {
		return nil, nil
	}
	cur, err := tailFile(filepath.Join(l.dir, currentName), n)
	if err != nil || len(cur) >= n {
		return cur, err
	}
	prev, err := tailFile(filepath.Join(l.dir, previousName), n-len(cur))
	return append(prev, cur...), err
}

// tailFile returns up to the last n lines of a log file, reading it from
// the end in growing chunks so a short tail of a big file stays cheap.
// Lines that do not parse, such as one cut by a crash, are skipped.
func tailFile(path string, n int) ([]Line, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := info.Size()
	for chunk := int64(64 << 10); ; chunk *= 4 {
		chunk = min(chunk, size)
		buf := make([]byte, chunk)
		if _, err := f.ReadAt(buf, size-chunk); err != nil && err != io.EOF {
			return nil, err
		}
		raw := bytes.Split(bytes.TrimSuffix(buf, []byte("\n")), []byte("\n"))
		if chunk < size {
			raw = raw[1:] // the first piece may be the end of a longer line
		}
		if len(raw) >= n || chunk == size {
			return parseLines(raw[max(0, len(raw)-n):]), nil
		}
	}
}

// parseLines parses stored lines, skipping any that do not parse.
func parseLines(raw [][]byte) []Line {
	lines := make([]Line, 0, len(raw))
	for _, r := range raw {
		if line, err := ParseLine(string(r)); err == nil {
			lines = append(lines, line)
		}
	}
	return lines
}
