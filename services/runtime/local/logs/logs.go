// Package logs keeps the output of one instance of a service: every line
// its processes write to stdout or stderr, across restarts, in at most two
// files of bounded size, readable from the end (Tail) and as it grows
// (Follow).
//
// # Format
//
// A log is a directory holding current.log and, after the first rotation,
// previous.log. Each line of either is one line of output:
//
//	2026-01-02T15:04:05.123456789Z stdout hello, world
//
// that is, the time it was written (RFC 3339, UTC, nanoseconds), a space,
// the stream (stdout or stderr), a space, and the text without its
// newline. Output lines longer than MaxLineBytes are cut into several. When
// writing a line would take current.log past Options.FileBytes, it becomes
// previous.log (replacing the older one) and a new current.log starts, so a
// log never holds much more than twice FileBytes.
package logs

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Stream says which output a line came from.
type Stream string

// The two streams of a process.
const (
	// Stdout is the process's standard output.
	Stdout Stream = "stdout"
	// Stderr is the process's standard error.
	Stderr Stream = "stderr"
)

// MaxLineBytes is the longest text stored as one line; longer output lines
// are cut.
const MaxLineBytes = 16 << 10

// Line is one line of output.
type Line struct {
	// Time is when the line was written to the log.
	Time time.Time
	// Stream is where the process wrote it.
	Stream Stream
	// Text is the line without its newline.
	Text string
}

// ErrBadLine marks a stored line that is not in the log format.
var ErrBadLine = errors.New("not a log line")

// String returns the line in the log format, without a newline.
func (l Line) String() string {
	return l.Time.UTC().Format(time.RFC3339Nano) + " " + string(l.Stream) + " " + l.Text
}

// ParseLine reads one line in the log format, without its newline.
func ParseLine(s string) (Line, error) {
	ts, rest, ok1 := strings.Cut(s, " ")
	stream, text, ok2 := strings.Cut(rest, " ")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok1 || !ok2 || err != nil || (stream != string(Stdout) && stream != string(Stderr)) {
		return Line{}, fmt.Errorf("%q: %w", truncate(s, 80), ErrBadLine)
	}
	return Line{Time: t, Stream: Stream(stream), Text: text}, nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
