package supervise

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"m3o.dev/services/runtime/local/logs"
	"m3o.dev/services/runtime/local/sandbox"
)

// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL.
const DefaultGrace = 10 * time.Second

// Config describes one instance to supervise.
type Config struct {
	// Sandbox starts the process.
	Sandbox *sandbox.Sandbox
	// Spec is the process; its Stdout and Stderr are replaced by the log's.
	Spec sandbox.Spec
	// Log receives the instance's output across all its runs. The
	// supervisor writes to it and never closes it.
	Log *logs.Log
	// Backoff configures restarts.
	Backoff Backoff
	// Grace is how long Stop waits for the process to exit after SIGTERM;
	// zero means DefaultGrace.
	Grace time.Duration
	// MemoryLimitMiB, when positive, is the most resident memory the
	// instance's process group may use before the watchdog kills it.
	// SetMemoryLimit changes it while the instance runs.
	MemoryLimitMiB int64
	// MemoryPoll is how often the watchdog measures; zero means
	// DefaultMemoryPoll.
	MemoryPoll time.Duration
	// OnChange, when set, is called with every new status, in order, from
	// the supervisor's goroutine. It must not block and must not call Stop.
	OnChange func(Status)
}

// Supervisor keeps one instance running until Stop.
type Supervisor struct {
	cfg    Config
	limit  atomic.Int64 // memory limit in bytes; 0 when none
	mu     sync.Mutex
	status Status
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
}

// Start begins supervising: the process starts at once, and again after
// every exit, until Stop.
func Start(cfg Config) (*Supervisor, error) {
	if cfg.Sandbox == nil || cfg.Log == nil || cfg.Spec.Namespace == nil {
		return nil, errors.New("supervise: a sandbox, a log and a namespace are required")
	}
	cfg.Backoff = cfg.Backoff.withDefaults()
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.MemoryPoll <= 0 {
		cfg.MemoryPoll = DefaultMemoryPoll
	}
	s := &Supervisor{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}),
		status: Status{State: Starting, Since: time.Now()}}
	s.SetMemoryLimit(cfg.MemoryLimitMiB)
	go s.loop()
	return s, nil
}

// Status returns a snapshot of the instance.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// SetMemoryLimit changes the most resident memory the instance may use,
// in MiB, without restarting it; 0 or less removes the limit. The
// watchdog holds the running process to it from its next measure on.
func (s *Supervisor) SetMemoryLimit(mib int64) {
	s.limit.Store(max(mib, 0) << 20)
}

// Stop stops the process (SIGTERM to its group, then SIGKILL after the
// grace period) and the restarts, and returns once all is quiet. The
// final state is Stopped.
func (s *Supervisor) Stop() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// update changes the status under the lock, stamps a new state's time and
// tells OnChange.
func (s *Supervisor) update(change func(*Status)) {
	s.mu.Lock()
	before := s.status.State
	change(&s.status)
	if s.status.State != before {
		s.status.Since = time.Now()
	}
	st := s.status
	s.mu.Unlock()
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(st)
	}
}

// loop runs the instance until Stop.
func (s *Supervisor) loop() {
	defer close(s.done)
	for first := true; ; first = false {
		reason, uptime, stopped := s.runOnce(first)
		if stopped || !s.backoff(reason, uptime) {
			return
		}
	}
}

// runOnce starts the process and waits for it to exit, or stops it. It
// returns how the run ended and how long it lasted.
func (s *Supervisor) runOnce(first bool) (reason string, uptime time.Duration, stopped bool) {
	s.update(func(st *Status) {
		st.State, st.Pid, st.Delay = Starting, 0, 0
		if !first {
			st.Restarts++
		}
	})
	stdout, stderr := s.cfg.Log.Writer(logs.Stdout), s.cfg.Log.Writer(logs.Stderr)
	defer stdout.Close()
	defer stderr.Close()
	spec := s.cfg.Spec
	spec.Stdout, spec.Stderr = stdout, stderr
	p, err := s.cfg.Sandbox.Start(spec)
	if err != nil {
		return "start failed: " + err.Error(), 0, false
	}
	began := time.Now()
	s.update(func(st *Status) { st.State, st.Pid = Running, p.Pid() })
	oom := make(chan string, 1)
	go func() { oom <- watchMemory(p, s.limit.Load, s.cfg.MemoryPoll) }()
	select {
	case <-p.Done():
	case <-s.stop:
		p.Stop(s.cfg.Grace)
		state, err := p.Wait()
		s.update(func(st *Status) { st.State, st.Pid, st.LastExit = Stopped, 0, exitReason(state, err) })
		return "", 0, true
	}
	state, err := p.Wait()
	reason = exitReason(state, err)
	if r := <-oom; r != "" {
		reason = r
	}
	return reason, time.Since(began), false
}

// backoff records an exit and waits before the next start. It reports
// false when Stop came first.
func (s *Supervisor) backoff(reason string, uptime time.Duration) bool {
	var delay time.Duration
	b := s.cfg.Backoff
	s.update(func(st *Status) {
		if uptime >= b.ResetAfter {
			st.Crashes = 0
		}
		st.Crashes++
		st.State, st.Pid, st.LastExit = Crashed, 0, reason
		if st.Crashes >= b.ErrorAfter {
			st.State = Error
		}
		delay = b.Delay(st.Crashes)
		st.Delay = delay
	})
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-s.stop:
		s.update(func(st *Status) { st.State, st.Delay = Stopped, 0 })
		return false
	}
}
