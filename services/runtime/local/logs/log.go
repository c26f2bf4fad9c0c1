package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DefaultFileBytes is the size at which current.log is rotated: two files
// of 5 MiB keep an instance's log within 10 MiB.
const DefaultFileBytes = 5 << 20

// Names of the two files of a log.
const (
	currentName  = "current.log"
	previousName = "previous.log"
)

// ErrClosed is returned when writing to a closed log, and by the Err of
// a subscription whose log was closed.
var ErrClosed = errors.New("the log is closed")

// Options configure a Log.
type Options struct {
	// FileBytes is the size past which current.log is rotated; zero means
	// DefaultFileBytes.
	FileBytes int64
	// Now stamps lines; nil means time.Now.
	Now func() time.Time
}

// Log is one instance's log. It is safe for concurrent use.
type Log struct {
	dir  string
	opts Options
	mu   sync.Mutex
	f    *os.File
	size int64
	subs map[*Subscription]struct{}
}

// Open opens the log in dir, creating the directory (mode 0700) and
// appending to what is already there.
func Open(dir string, opts Options) (*Log, error) {
	if opts.FileBytes <= 0 {
		opts.FileBytes = DefaultFileBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open log %q: %w", dir, err)
	}
	l := &Log{dir: dir, opts: opts, subs: map[*Subscription]struct{}{}}
	if err := l.openCurrent(); err != nil {
		return nil, fmt.Errorf("open log %q: %w", dir, err)
	}
	return l, nil
}

// openCurrent opens current.log for appending and learns its size.
func (l *Log) openCurrent() error {
	f, err := os.OpenFile(filepath.Join(l.dir, currentName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, info.Size()
	return nil
}

// Append writes text as one or more lines of stream, cutting it at
// newlines and at MaxLineBytes, and hands them to the subscribers.
func (l *Log) Append(stream Stream, text string) error {
	for {
		line, rest, more := strings.Cut(text, "\n")
		for len(line) > MaxLineBytes {
			if err := l.appendLine(stream, line[:MaxLineBytes]); err != nil {
				return err
			}
			line = line[MaxLineBytes:]
		}
		if err := l.appendLine(stream, line); err != nil || !more {
			return err
		}
		text = rest
	}
}

// appendLine writes one line, rotating first when it would not fit.
func (l *Log) appendLine(stream Stream, text string) error {
	line := Line{Time: l.opts.Now().UTC(), Stream: stream, Text: text}
	data := line.String() + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	if l.size > 0 && l.size+int64(len(data)) > l.opts.FileBytes {
		if err := l.rotate(); err != nil {
			return fmt.Errorf("rotate log %q: %w", l.dir, err)
		}
	}
	n, err := l.f.WriteString(data)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("write log %q: %w", l.dir, err)
	}
	l.publish(line)
	return nil
}

// rotate turns current.log into previous.log and starts a new one.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	if err := os.Rename(filepath.Join(l.dir, currentName), filepath.Join(l.dir, previousName)); err != nil {
		return err
	}
	return l.openCurrent()
}

// Close closes the log and ends its subscriptions with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		s.end(ErrClosed)
	}
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Writer returns a writer for a process's stream: it stores each complete
// line it is given, and its Close stores a last line left without a
// newline. Each stream of each process needs a writer of its own.
func (l *Log) Writer(stream Stream) io.WriteCloser {
	return &lineWriter{log: l, stream: stream}
}

// lineWriter cuts a byte stream into lines.
type lineWriter struct {
	log    *Log
	stream Stream
	buf    []byte
}

// Write implements io.Writer.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		var text string
		switch i := bytes.IndexByte(w.buf, '\n'); {
		case i >= 0 && i <= MaxLineBytes:
			text, w.buf = string(w.buf[:i]), w.buf[i+1:]
		case len(w.buf) >= MaxLineBytes:
			text, w.buf = string(w.buf[:MaxLineBytes]), w.buf[MaxLineBytes:]
		default:
			return len(p), nil
		}
		if err := w.log.appendLine(w.stream, text); err != nil {
			return len(p), err
		}
	}
}

// Close implements io.Closer.
func (w *lineWriter) Close() error {
	if len(w.buf) == 0 {
		return nil
	}
	text := string(w.buf)
	w.buf = nil
	return w.log.appendLine(w.stream, text)
}
