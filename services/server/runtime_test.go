package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/platform"
	"m3o.dev/pkg/service/servicetest/hellopb"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/runtime/runtimetest"
)

// settle bounds a deployment; the first build of a namespace compiles the
// SDK and gRPC into its fresh cache.
const settle = 15 * time.Minute

// TestRuntimeJourney drives `micro server`'s runtime with the gRPC API as
// a tenant would: Upload, Create, a call through the proxy, Logs; checks
// the sandbox from inside an instance; fails an update; kills the server
// with SIGKILL and checks that no instance survives it and that the
// generation that ran runs again after a restart, while the one that
// failed is tried again and fails; then Delete.
func TestRuntimeJourney(t *testing.T) {
	s := newMicroServer(t)
	s.start()
	conn := s.conn(t)
	admin := login(t, conn, platform.Namespace, "admin", adminPassword)
	alice := tenant(t, conn, admin, "alpha-space", "alice")
	bob := tenant(t, conn, admin, "bravo-space", "bob")
	rt := runtimev1.NewRuntimeServiceClient(conn)

	bobsFile := s.otherNamespaceFile(t, rt, bob)
	secrets := []string{filepath.Join(s.cfg.DataDir, "ca-key.pem"), bobsFile}
	create(t, rt, alice, "hello", runtimetest.Hello, map[string]string{
		"GREETING": "hello from alpha", "PRINT_ENV": "1", "READ_FILES": strings.Join(secrets, ","),
	})
	waitRunning(t, rt, alice, "hello", 1)
	checkCall(t, conn, alice, "hello from alpha")
	logs := readLogs(t, rt, alice, "hello")
	checkEnvironment(t, logs)
	checkUnreadable(t, logs, secrets)
	update(t, rt, alice, "hello", runtimetest.Broken)
	waitStatus(t, rt, alice, "hello", notTaken(t, 2, 1))

	s.kill9()
	waitNoInstance(t, s.runtimeDir)
	s.start()
	conn = s.conn(t)
	rt = runtimev1.NewRuntimeServiceClient(conn)
	waitStatus(t, rt, alice, "hello", notTaken(t, 2, 1))
	checkCall(t, conn, alice, "hello from alpha")

	if _, err := rt.Delete(alice, &runtimev1.DeleteRequest{Name: "hello"}); err != nil {
		t.Fatalf("Delete(hello) = %v", err)
	}
	_, err := rt.Read(alice, &runtimev1.ReadRequest{Name: "hello"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Read after Delete = %v, want NotFound", err)
	}
	s.stop()
}

// otherNamespaceFile gives bob's namespace a service that fails to build,
// which leaves files of bob's in the sandbox, and returns one of them.
func (s *microServer) otherNamespaceFile(t *testing.T, rt runtimev1.RuntimeServiceClient, bob context.Context) string {
	t.Helper()
	create(t, rt, bob, "broken", runtimetest.Broken, nil)
	waitStatus(t, rt, bob, "broken", func(svc *runtimev1.Service) bool { return svc.GetStatus() == runtimev1.Status_STATUS_ERROR })
	file := filepath.Join(s.runtimeDir, "sandbox", "ns", "bravo-space", "build", "broken", "go.mod")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("bob's build left no %s: %v", file, err)
	}
	return file
}

// create uploads program and creates the service name from it with env.
func create(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, name, program string, env map[string]string) {
	t.Helper()
	_, err := rt.Create(ctx, &runtimev1.CreateRequest{
		Service: &runtimev1.Service{Name: name, Source: uploadProgram(t, rt, ctx, name, program)},
		Options: &runtimev1.Options{Env: env},
	})
	if err != nil {
		t.Fatalf("Create(%s) = %v", name, err)
	}
}

// update uploads program and makes it the service's next generation.
func update(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, name, program string) {
	t.Helper()
	_, err := rt.Update(ctx, &runtimev1.UpdateRequest{Service: &runtimev1.Service{Name: name, Source: uploadProgram(t, rt, ctx, name, program)}})
	if err != nil {
		t.Fatalf("Update(%s) = %v", name, err)
	}
}

// uploadProgram uploads program as a source of the service name and
// returns its id.
func uploadProgram(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, name, program string) string {
	t.Helper()
	archive, err := runtimetest.Archive(program)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rt.Upload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&runtimev1.UploadRequest{Name: name, Chunk: archive}); err != nil {
		t.Fatal(err)
	}
	up, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("Upload(%s) = %v", program, err)
	}
	return up.GetSourceId()
}

// notTaken holds for a service whose generation gen did not take while
// generation running serves, and fails the test once none serves.
func notTaken(t *testing.T, gen, running uint64) func(*runtimev1.Service) bool {
	return func(svc *runtimev1.Service) bool {
		if svc.GetStatus() == runtimev1.Status_STATUS_ERROR {
			t.Fatalf("service %s is down: %s", svc.GetName(), svc.GetError())
		}
		return svc.GetStatus() == runtimev1.Status_STATUS_RUNNING && svc.GetGeneration() == gen &&
			svc.GetRunningGeneration() == running && strings.HasPrefix(svc.GetError(), platform.NotTaken(gen, running, ""))
	}
}

// waitStatus polls Read until done holds for the service.
func waitStatus(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, name string, done func(*runtimev1.Service) bool) *runtimev1.Service {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		resp, err := rt.Read(ctx, &runtimev1.ReadRequest{Name: name}, grpc.WaitForReady(true))
		if err == nil && done(resp.GetServices()[0]) {
			return resp.GetServices()[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s not settled after %s: %v, %v", name, settle, resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRunning waits until generation gen of the service runs.
func waitRunning(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, name string, gen uint64) {
	t.Helper()
	waitStatus(t, rt, ctx, name, func(svc *runtimev1.Service) bool {
		if svc.GetStatus() == runtimev1.Status_STATUS_ERROR {
			t.Fatalf("service %s failed: %s", name, svc.GetError())
		}
		return svc.GetStatus() == runtimev1.Status_STATUS_RUNNING && svc.GetRunningGeneration() == gen
	})
}

// checkCall calls the hello service through the proxy.
func checkCall(t *testing.T, conn *grpc.ClientConn, ctx context.Context, want string) {
	t.Helper()
	ctx = metadata.AppendToOutgoingContext(ctx, platform.ServiceHeader, "hello")
	resp, err := hellopb.NewHelloClient(conn).Call(ctx, &hellopb.CallRequest{Name: "Ann"}, grpc.WaitForReady(true))
	if err != nil || resp.GetMessage() != want+" Ann" {
		t.Errorf("Hello.Call through the proxy = %q, %v, want %q", resp.GetMessage(), err, want+" Ann")
	}
}

// readLogs returns the service's log lines.
func readLogs(t *testing.T, rt runtimev1.RuntimeServiceClient, ctx context.Context, name string) []string {
	t.Helper()
	stream, err := rt.Logs(ctx, &runtimev1.LogsRequest{Name: name, Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		l, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return lines
		}
		if err != nil {
			t.Fatalf("Logs() = %v", err)
		}
		lines = append(lines, fmt.Sprintf("%d %s %s", l.GetInstance(), l.GetStream(), l.GetMessage()))
	}
}

// checkEnvironment checks that the instance's environment is the
// contract's, its own variables and its private HOME and TMPDIR: nothing
// of the server's.
func checkEnvironment(t *testing.T, logs []string) {
	t.Helper()
	want := []string{"GREETING", "HOME", "MICRO_ACCOUNT_ID", "MICRO_ACCOUNT_SECRET", "MICRO_ADDRESS", "MICRO_INSTANCE",
		"MICRO_NAMESPACE", "MICRO_PROXY", "MICRO_SERVICE_NAME", "MICRO_SERVICE_VERSION", "MICRO_TLS_DIR",
		"PATH", "PRINT_ENV", "READ_FILES", "TMPDIR"}
	for _, l := range logs {
		if names, ok := strings.CutPrefix(l, "1 stdout env: "); ok {
			if got := strings.Fields(names); !slices.Equal(got, want) {
				t.Errorf("instance environment = %v, want exactly %v", got, want)
			}
			return
		}
	}
	t.Errorf("no env line in the logs:\n%s", strings.Join(logs, "\n"))
}

// checkUnreadable checks that the instance could read none of the files.
func checkUnreadable(t *testing.T, logs []string, files []string) {
	t.Helper()
	for _, f := range files {
		line := "1 stdout read " + f + ": open " + f + ": permission denied"
		if !slices.Contains(logs, line) {
			t.Errorf("logs lack %q: the instance may have read it\n%s", line, strings.Join(logs, "\n"))
		}
	}
}

// waitNoInstance waits until no process group recorded in the sandbox is
// alive: after a kill -9 of the server, the kernel's parent-death signal
// takes every instance with it.
func waitNoInstance(t *testing.T, runtimeDir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(runtimeDir, "sandbox", "run", "*.pid"))
	if len(files) == 0 {
		t.Fatal("no pid file in the sandbox: nothing was running before the kill")
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, f := range files {
		for groupAlive(t, f) {
			if time.Now().After(deadline) {
				t.Fatalf("the process group in %s is still alive after the server was killed", f)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// groupAlive reports whether the process group a pid file records has a
// member left that is not a zombie.
func groupAlive(t *testing.T, pidFile string) bool {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	field, _, _ := strings.Cut(strings.TrimPrefix(string(data), "pgid="), " ")
	pgid, err := strconv.Atoi(field)
	if err != nil {
		t.Fatalf("pid file %s: %q", pidFile, data)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && livingMember(pid, pgid) {
			return true
		}
	}
	return false
}

// livingMember reports whether pid is in process group pgid and not a
// zombie.
func livingMember(pid, pgid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Fields resume after the command's closing parenthesis: state, ppid,
	// pgrp.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" && fields[0] != "X"
}
