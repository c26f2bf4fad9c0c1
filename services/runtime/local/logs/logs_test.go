package logs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/runtime/local/logs"
)

// openLog opens a log in a fresh directory.
func openLog(t *testing.T, opts logs.Options) (*logs.Log, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	l, err := logs.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// texts returns the text of each line.
func texts(lines []logs.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

func TestParseLineRoundTrip(t *testing.T) {
	line := logs.Line{Time: time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC), Stream: logs.Stderr, Text: "panic: boom  with  spaces"}
	s := line.String()
	if s != "2026-01-02T15:04:05.123456789Z stderr panic: boom  with  spaces" {
		t.Fatalf("String() = %q, want the documented format", s)
	}
	got, err := logs.ParseLine(s)
	if err != nil || !got.Time.Equal(line.Time) || got.Stream != line.Stream || got.Text != line.Text {
		t.Fatalf("ParseLine(%q) = %+v, %v, want %+v", s, got, err, line)
	}
	for _, bad := range []string{"", "no-time stdout x", "2026-01-02T15:04:05Z stdin x", "2026-01-02T15:04:05Z"} {
		if _, err := logs.ParseLine(bad); !errors.Is(err, logs.ErrBadLine) {
			t.Errorf("ParseLine(%q) = %v, want ErrBadLine", bad, err)
		}
	}
}

func TestWriterCutsLines(t *testing.T) {
	l, _ := openLog(t, logs.Options{})
	out, errw := l.Writer(logs.Stdout), l.Writer(logs.Stderr)
	fmt.Fprint(out, "one\ntw")
	fmt.Fprint(errw, "oops\n")
	fmt.Fprint(out, "o\n\nthree")
	long := strings.Repeat("x", logs.MaxLineBytes+10)
	fmt.Fprint(errw, long+"\n")
	out.Close()
	lines, err := l.Tail(100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "oops", "two", "", strings.Repeat("x", logs.MaxLineBytes), "xxxxxxxxxx", "three"}
	if got := texts(lines); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %.80q, want %.80q", got, want)
	}
	if lines[1].Stream != logs.Stderr || lines[0].Stream != logs.Stdout {
		t.Fatalf("streams = %s, %s, want stdout, stderr", lines[0].Stream, lines[1].Stream)
	}
}

func TestRotationKeepsTheLogWithinTwoFiles(t *testing.T) {
	const fileBytes = 1024
	l, dir := openLog(t, logs.Options{FileBytes: fileBytes})
	for i := range 200 {
		if err := l.Append(logs.Stdout, fmt.Sprintf("line %03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("log dir holds %d files, want current.log and previous.log", len(entries))
	}
	for _, name := range []string{"current.log", "previous.log"} {
		if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.Size() > fileBytes {
			t.Fatalf("%s: %v, size over %d", name, err, fileBytes)
		}
	}
	all, err := l.Tail(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) >= 200 || len(all) < fileBytes/50 || all[len(all)-1].Text != "line 199" {
		t.Fatalf("Tail(1000) = %d lines ending %q, want the newest lines only, ending with line 199", len(all), all[len(all)-1].Text)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Text <= all[i-1].Text {
			t.Fatalf("Tail lines out of order: %q after %q", all[i].Text, all[i-1].Text)
		}
	}
	// A tail that spans both files.
	cur, _ := os.ReadFile(filepath.Join(dir, "current.log"))
	n := strings.Count(string(cur), "\n") + 3
	if got, _ := l.Tail(n); len(got) != n || got[n-1].Text != "line 199" {
		t.Fatalf("Tail(%d) = %d lines, want %d across both files", n, len(got), n)
	}
}

func TestReopenKeepsLines(t *testing.T) {
	l, dir := openLog(t, logs.Options{})
	l.Append(logs.Stdout, "before restart")
	l.Close()
	again, err := logs.Open(dir, logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	again.Append(logs.Stdout, "after restart")
	if got, _ := again.Tail(5); strings.Join(texts(got), "|") != "before restart|after restart" {
		t.Fatalf("Tail after reopening = %q, want both lines", texts(got))
	}
	if err := l.Append(logs.Stdout, "x"); !errors.Is(err, logs.ErrClosed) {
		t.Fatalf("Append on a closed log = %v, want ErrClosed", err)
	}
}

func TestFollow(t *testing.T) {
	l, _ := openLog(t, logs.Options{})
	l.Append(logs.Stdout, "old 1")
	l.Append(logs.Stdout, "old 2")
	l.Append(logs.Stdout, "old 3")
	tail, sub, err := l.Follow(2)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if strings.Join(texts(tail), "|") != "old 2|old 3" {
		t.Fatalf("Follow(2) tail = %q, want the last two lines", texts(tail))
	}
	l.Append(logs.Stderr, "new 1\nnew 2")
	for _, want := range []string{"new 1", "new 2"} {
		select {
		case got := <-sub.Lines():
			if got.Text != want || got.Stream != logs.Stderr {
				t.Fatalf("followed %+v, want %q on stderr", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no line followed within 10s, want %q", want)
		}
	}
	sub.Close()
	if _, ok := <-sub.Lines(); ok || sub.Err() != nil {
		t.Fatalf("after Close: channel open = %v, Err() = %v, want closed and nil", ok, sub.Err())
	}
}

func TestSlowFollowerIsDropped(t *testing.T) {
	l, _ := openLog(t, logs.Options{})
	_, sub, err := l.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		l.Append(logs.Stdout, fmt.Sprint(i))
	}
	n := 0
	for range sub.Lines() {
		n++
	}
	if !errors.Is(sub.Err(), logs.ErrFellBehind) || n == 0 || n >= 5000 {
		t.Fatalf("slow follower got %d lines then Err() = %v, want some lines then ErrFellBehind", n, sub.Err())
	}
}

func TestCloseEndsFollowers(t *testing.T) {
	l, _ := openLog(t, logs.Options{})
	_, sub, err := l.Follow(0)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, ok := <-sub.Lines(); ok || !errors.Is(sub.Err(), logs.ErrClosed) {
		t.Fatalf("after the log closed: open = %v, Err() = %v, want closed with ErrClosed", ok, sub.Err())
	}
}
