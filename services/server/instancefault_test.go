package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service/servicetest/hellopb"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/faulttest"
	"m3o.dev/services/runtime/runtimetest"
)

// TestUserInstanceKilled kills one of two instances of a tenant's service
// with SIGKILL while calls run through the proxy: the calls go to the
// other instance, the runtime restarts the killed one, and it answers
// again. A call that failed says Unavailable or DeadlineExceeded, and
// only calls in flight on the killed instance fail.
func TestUserInstanceKilled(t *testing.T) {
	s := newMicroServer(t)
	s.start()
	conn := s.conn(t)
	admin := login(t, conn, platform.Namespace, "admin", adminPassword)
	alice := tenant(t, conn, admin, "failover-space", "alice")
	rt := runtimev1.NewRuntimeServiceClient(conn)
	create(t, rt, alice, "hello", runtimetest.Hello, map[string]string{"GREETING": "hi", "SHOW_INSTANCE": "1"})
	waitRunning(t, rt, alice, "hello", 1)
	if _, err := rt.Resize(admin, &runtimev1.ResizeRequest{Namespace: "failover-space", Name: "hello", Instances: 2}); err != nil {
		t.Fatalf("Resize(2 instances) = %v", err)
	}
	if got := spread(t, conn, alice, 2); len(got) != 2 {
		t.Fatalf("calls reached instances %v, want both", got)
	}

	answers := &answerLog{}
	hello := hellopb.NewHelloClient(conn)
	caller := metadata.AppendToOutgoingContext(alice, platform.ServiceHeader, "hello")
	w := faulttest.Start(4, 1, func(ctx context.Context, _ string, _ []byte) error {
		resp, err := hello.Call(withBearerOf(ctx, caller), &hellopb.CallRequest{Name: "Ann"})
		if err == nil {
			answers.record(resp.GetMessage())
		}
		return err
	})
	w.WaitForAcks(t, 100)
	killed := time.Now()
	pgid := killInstance(t, s.runtimeDir, "failover-space", "hello", 1)
	// Answers of instance 1 that were in flight at the kill arrive after
	// it; only one after the old process is gone comes from its restart.
	gone := waitGone(t, pgid)
	w.WaitForAcks(t, w.Acks()+200)
	failedSoon := failures(w.Codes())
	svc := waitStatus(t, rt, alice, "hello", func(svc *runtimev1.Service) bool {
		first := svc.GetInstances()[0]
		return first.GetRestarts() >= 1 && first.GetStatus() == runtimev1.Status_STATUS_RUNNING
	})
	back := answers.waitFor(t, "1", gone)
	w.Stop()

	t.Logf("one of two instances killed: %d calls answered, %d failed (%d in the first 200 after the kill); "+
		"instance 1 restarted (%s) and answered again %v after the kill; codes seen: %v",
		w.Acks(), failures(w.Codes()), failedSoon, svc.GetInstances()[0].GetLastExit(), back.Sub(killed).Round(time.Millisecond), w.Codes())
	w.CheckCodes(t, "the instance's death")
	if n := answers.countSince("2", killed); n == 0 {
		t.Errorf("instance 2 answered no call after instance 1 was killed, want the calls to go on there")
	}
	// Four callers have at most four calls in flight on the killed
	// instance; a proxy that kept routing to it until its registration
	// lapsed would fail about half of the 200 calls after the kill.
	if failedSoon > 20 {
		t.Errorf("%d calls failed while 200 succeeded after the kill, want the calls to go to the live instance", failedSoon)
	}
}

// killInstance sends SIGKILL to the process group of instance n of the
// service, as the out-of-memory killer or a crash would end it, and
// returns the group.
func killInstance(t *testing.T, runtimeDir, ns, name string, n int) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(runtimeDir, "sandbox", "run", fmt.Sprintf("%s.%s-%d.pid", ns, name, n)))
	if err != nil {
		t.Fatal(err)
	}
	field, _, _ := strings.Cut(strings.TrimPrefix(string(data), "pgid="), " ")
	pgid, err := strconv.Atoi(field)
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 of instance %d: %v", n, err)
	}
	return pgid
}

// waitGone waits until no process of the group pgid is left, and returns
// when it saw that.
func waitGone(t *testing.T, pgid int) time.Time {
	t.Helper()
	for deadline := time.Now().Add(settle); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return time.Now()
		}
	}
	t.Fatalf("process group %d still there %s after SIGKILL", pgid, settle)
	return time.Time{}
}

func failures(seen map[codes.Code]int) int {
	n := 0
	for _, c := range seen {
		n += c
	}
	return n
}

// answerLog remembers which instance answered when.
type answerLog struct {
	mu      sync.Mutex
	answers []answer
}

type answer struct {
	instance string
	at       time.Time
}

var instanceOf = regexp.MustCompile(`\(instance (\d+)\)`)

func (l *answerLog) record(message string) {
	m := instanceOf.FindStringSubmatch(message)
	if m == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, answer{instance: m[1], at: time.Now()})
}

// countSince counts the answers of instance after since.
func (l *answerLog) countSince(instance string, since time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.answers {
		if a.instance == instance && a.at.After(since) {
			n++
		}
	}
	return n
}

// waitFor waits until instance answers after since, and returns when it
// first did.
func (l *answerLog) waitFor(t *testing.T, instance string, since time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, a := range l.answers {
			if a.instance == instance && a.at.After(since) {
				l.mu.Unlock()
				return a.at
			}
		}
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("instance %s answered no call after %s", instance, since.Format(time.TimeOnly))
	return time.Time{}
}
