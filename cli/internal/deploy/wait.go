package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// DefaultInterval is how often Wait reads the service.
const DefaultInterval = time.Second

// maxBuildLines is the most build log lines the runtime sends at once.
const maxBuildLines = 10000

// Failure is a generation that did not take. Error says why, in the
// runtime's words.
type Failure struct {
	// Service is the service as last read.
	Service *runtimev1.Service
	// Generation is the generation that failed.
	Generation uint64
}

// Error implements error.
func (f *Failure) Error() string {
	why := f.Service.GetError()
	if why == "" {
		why = "it is " + StatusName(f.Service.GetStatus())
	}
	return fmt.Sprintf("generation %d of %s failed: %s", f.Generation, f.Service.GetName(), why)
}

// OlderRuns reports whether an older generation still serves, as after a
// failed update.
func (f *Failure) OlderRuns() bool {
	return f.Service.GetStatus() == runtimev1.Status_STATUS_RUNNING && f.Service.GetRunningGeneration() > 0
}

// Outcome says whether generation gen of svc has taken (done) or failed
// (a *Failure), or is still on its way (neither).
func Outcome(svc *runtimev1.Service, gen uint64) (done bool, err error) {
	switch st := svc.GetStatus(); {
	case st == runtimev1.Status_STATUS_RUNNING && svc.GetRunningGeneration() >= gen:
		return true, nil
	case st == runtimev1.Status_STATUS_ERROR, st == runtimev1.Status_STATUS_STOPPED:
		return false, &Failure{Service: svc, Generation: gen}
	case st == runtimev1.Status_STATUS_RUNNING && svc.GetError() != "":
		return false, &Failure{Service: svc, Generation: gen}
	}
	return false, nil
}

// Watch follows one generation of a service.
type Watch struct {
	// Client reaches the runtime.
	Client runtimev1.RuntimeServiceClient
	// Name and Namespace name the service; Namespace is empty but for an
	// admin acting on another namespace.
	Name, Namespace string
	// Generation is the one to wait for.
	Generation uint64
	// Interval is how often to read the service; zero means
	// DefaultInterval.
	Interval time.Duration
	// OnStatus, when set, is called with the service whenever its status
	// changes, and first with its first reading.
	OnStatus func(*runtimev1.Service)
	// OnBuildLine, when set, receives the build log's lines as the build
	// writes them.
	OnBuildLine func(string)
}

// Wait reads the service until the generation runs, returning the
// service, or fails, returning a *Failure, or ctx ends.
func (w Watch) Wait(ctx context.Context) (*runtimev1.Service, error) {
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	build := buildLog{w: w}
	var last runtimev1.Status
	for {
		s, err := w.read(ctx)
		if err != nil {
			return nil, err
		}
		if s.GetStatus() != last && w.OnStatus != nil {
			w.OnStatus(s)
		}
		done, err := Outcome(s, w.Generation)
		if err := build.follow(ctx, last, s.GetStatus(), done || err != nil); err != nil {
			return nil, err
		}
		if done || err != nil {
			return s, err
		}
		last = s.GetStatus()
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-tick.C:
		}
	}
}

// read returns the service.
func (w Watch) read(ctx context.Context) (*runtimev1.Service, error) {
	resp, err := w.Client.Read(ctx, &runtimev1.ReadRequest{Name: w.Name, Namespace: w.Namespace})
	if err != nil {
		return nil, err
	}
	if len(resp.GetServices()) != 1 {
		return nil, fmt.Errorf("read %s: the runtime returned %d services", w.Name, len(resp.GetServices()))
	}
	return resp.GetServices()[0], nil
}

// buildLog passes on the lines of the build log not passed on yet.
type buildLog struct {
	w       Watch
	printed int
	read    bool
}

// follow reads the build log while the service builds, once more when it
// has stopped building, and at the end if it was never read: the log is
// the latest build's, which before this generation builds is an older
// one's.
func (b *buildLog) follow(ctx context.Context, prev, cur runtimev1.Status, end bool) error {
	building := runtimev1.Status_STATUS_BUILDING
	if b.w.OnBuildLine == nil || !(cur == building || prev == building || end && !b.read) {
		return nil
	}
	b.read = true
	lines, err := b.fetch(ctx)
	if err != nil {
		return err
	}
	if len(lines) < b.printed {
		b.printed = 0 // a new build started the log afresh
	}
	for _, l := range lines[b.printed:] {
		b.w.OnBuildLine(l)
	}
	b.printed = len(lines)
	return nil
}

// fetch returns the build log's lines.
func (b *buildLog) fetch(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := b.w.Client.Logs(ctx, &runtimev1.LogsRequest{Name: b.w.Name, Namespace: b.w.Namespace, Build: true, Count: maxBuildLines})
	if err != nil {
		return nil, err
	}
	var lines []string
	for {
		l, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
		lines = append(lines, l.GetMessage())
	}
}
