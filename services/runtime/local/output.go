package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/local/logs"
)

// maxBuildLogRead bounds how much of a build log's end is read.
const maxBuildLogRead = 1 << 20

// sendBuildLog sends the last opts.Count lines of the latest build's log.
func (u *unit) sendBuildLog(opts runtime.LogOptions, send func(runtime.LogLine) error) error {
	lines, err := lastLines(u.buildLog(), opts.Count)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, text := range lines {
		if err := send(runtime.LogLine{Stream: runtime.StreamBuild, Text: text}); err != nil {
			return err
		}
	}
	return nil
}

// lastLines returns up to the last n lines of a file, reading at most its
// last maxBuildLogRead bytes.
func lastLines(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	from := max(0, info.Size()-maxBuildLogRead)
	data, err := io.ReadAll(io.NewSectionReader(f, from, info.Size()-from))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(bytes.TrimSuffix(data, []byte("\n"))), "\n")
	if len(data) == 0 {
		return nil, nil
	}
	return lines[max(0, len(lines)-n):], nil
}

// sendLogs sends the latest lines of every instance, merged by time, and
// with opts.Follow the new ones as they come.
func (u *unit) sendLogs(ctx context.Context, opts runtime.LogOptions, send func(runtime.LogLine) error) error {
	if opts.Follow {
		return u.follow(ctx, opts, send)
	}
	all, _ := u.openLogs()
	var lines []runtime.LogLine
	for n, l := range all {
		tail, err := l.Tail(opts.Count)
		if err != nil {
			return err
		}
		lines = append(lines, convert(n, tail)...)
	}
	return sendEach(latest(lines, opts), send)
}

// openLogs returns the instances' logs and a channel closed when one is
// added.
func (u *unit) openLogs() (map[int]*logs.Log, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[int]*logs.Log, len(u.logs))
	for n, l := range u.logs {
		out[n] = l
	}
	return out, u.logsAdded
}

// convert turns instance n's lines into the runtime's.
func convert(n int, lines []logs.Line) []runtime.LogLine {
	out := make([]runtime.LogLine, len(lines))
	for i, l := range lines {
		out[i] = runtime.LogLine{Time: l.Time, Instance: n, Stream: string(l.Stream), Text: l.Text}
	}
	return out
}

// latest sorts lines by time, drops those before opts.Since and keeps the
// last opts.Count.
func latest(lines []runtime.LogLine, opts runtime.LogOptions) []runtime.LogLine {
	slices.SortStableFunc(lines, func(a, b runtime.LogLine) int { return a.Time.Compare(b.Time) })
	lines = slices.DeleteFunc(lines, func(l runtime.LogLine) bool { return l.Time.Before(opts.Since) })
	return lines[max(0, len(lines)-opts.Count):]
}

func sendEach(lines []runtime.LogLine, send func(runtime.LogLine) error) error {
	for _, l := range lines {
		if err := send(l); err != nil {
			return err
		}
	}
	return nil
}

// follower fans the lines of every instance's log into one channel, and
// picks up instances that start later.
type follower struct {
	ctx        context.Context
	lines      chan runtime.LogLine
	dropped    chan int
	subscribed map[int]bool
	backlog    []runtime.LogLine
}

// follow sends the latest lines, then every new one, until ctx ends or
// the service goes away.
func (u *unit) follow(ctx context.Context, opts runtime.LogOptions, send func(runtime.LogLine) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &follower{ctx: ctx, lines: make(chan runtime.LogLine, 1024), dropped: make(chan int, 16), subscribed: map[int]bool{}}
	all, added := u.openLogs()
	f.subscribeAll(all, opts.Count)
	if err := sendEach(latest(f.backlog, opts), send); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-u.ctx.Done():
			return nil
		case l := <-f.lines:
			if err := send(l); err != nil {
				return err
			}
		case <-added:
			all, added = u.openLogs()
			f.subscribeAll(all, 0)
		case n := <-f.dropped:
			// The reader fell behind and missed lines; it follows on.
			delete(f.subscribed, n)
			all, _ := u.openLogs()
			f.subscribeAll(map[int]*logs.Log{n: all[n]}, 0)
		}
	}
}

// subscribeAll follows every log not followed yet, keeping the last count
// lines of each as backlog.
func (f *follower) subscribeAll(all map[int]*logs.Log, count int) {
	for n, l := range all {
		if f.subscribed[n] || l == nil {
			continue
		}
		backlog, sub, err := l.Follow(count)
		if err != nil {
			continue // closed: the service is going away
		}
		f.subscribed[n] = true
		f.backlog = append(f.backlog, convert(n, backlog)...)
		go f.forward(n, sub)
	}
}

// forward copies one subscription's lines until it ends.
func (f *follower) forward(n int, sub *logs.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-f.ctx.Done():
			return
		case l, ok := <-sub.Lines():
			if !ok {
				if errors.Is(sub.Err(), logs.ErrFellBehind) {
					select {
					case f.dropped <- n:
					case <-f.ctx.Done():
					}
				}
				return
			}
			select {
			case f.lines <- convert(n, []logs.Line{l})[0]:
			case <-f.ctx.Done():
				return
			}
		}
	}
}
