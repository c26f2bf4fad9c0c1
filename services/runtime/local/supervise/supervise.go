// Package supervise keeps one instance of a service running: it starts the
// process through the sandbox, restarts it with exponential backoff when
// it exits, polices its memory, and captures its output into a log.
//
// Backoff works as the kubelet's does: after the n-th exit in a row the
// next start waits Initial·2^(n-1), capped at Max; a run that stayed up
// for ResetAfter or longer counts as healthy and starts the count again.
// After ErrorAfter exits in a row the state is Error, with the last exit's
// reason and the restart count, and restarts go on at the capped pace, so
// a service that was waiting on something else recovers by itself.
package supervise

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// State is where an instance is in its life.
type State string

// The states of an instance.
const (
	// Starting means the process is being started.
	Starting State = "starting"
	// Running means the process is up.
	Running State = "running"
	// Crashed means the process exited and waits, backing off, to be
	// started again.
	Crashed State = "crashed"
	// Error means the process exited ErrorAfter times in a row; it still
	// waits to be started again, at the capped pace.
	Error State = "error"
	// Stopped means Stop was called; nothing runs and nothing will.
	Stopped State = "stopped"
)

// Status is a snapshot of an instance.
type Status struct {
	// State is the current state.
	State State
	// Pid is the process (and process group) id while Running, else 0.
	Pid int
	// Restarts counts the starts after the first.
	Restarts int
	// Crashes counts the exits in a row since the last healthy run.
	Crashes int
	// LastExit says how the last run ended: "exit status N", "killed by
	// signal N (name)", "OOM: …" when the memory watchdog killed it, or
	// "start failed: …".
	LastExit string
	// Since is when State was entered.
	Since time.Time
	// Delay is, in Crashed and Error, how long the instance waits before
	// the next start.
	Delay time.Duration
}

// Backoff configures restarts. A zero field takes its default.
type Backoff struct {
	// Initial is the wait after the first exit; default 1s.
	Initial time.Duration
	// Max caps the wait; default 60s.
	Max time.Duration
	// ResetAfter is how long a run must last to count as healthy and reset
	// the count; default 60s. Matching Max means a service that crashes
	// less often than the longest wait is treated as newly failing each
	// time rather than being held at the cap, while a crash loop of any
	// speed still climbs to the cap.
	ResetAfter time.Duration
	// ErrorAfter is how many exits in a row make the state Error; default 5.
	ErrorAfter int
}

// DefaultErrorAfter is how many exits in a row make the state Error when
// Backoff.ErrorAfter is zero.
const DefaultErrorAfter = 5

// withDefaults fills zero fields.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 60 * time.Second
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = 60 * time.Second
	}
	if b.ErrorAfter <= 0 {
		b.ErrorAfter = DefaultErrorAfter
	}
	return b
}

// Delay returns the wait before the start that follows the crashes-th
// exit in a row (crashes counts from 1).
func (b Backoff) Delay(crashes int) time.Duration {
	b = b.withDefaults()
	d := b.Initial
	for i := 1; i < crashes && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// exitReason describes how a process ended.
func exitReason(state *os.ProcessState, err error) string {
	if state == nil {
		return fmt.Sprintf("wait failed: %v", err)
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
	case ok && ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return state.String()
}
