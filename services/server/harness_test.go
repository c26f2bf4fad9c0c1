package server_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"m3o.dev/pkg/identity"
	authv1 "m3o.dev/proto/m3o/auth/v1"
	"m3o.dev/services/internal/faulttest"
	"m3o.dev/services/server"
)

// helperEnv carries, to a re-executed test binary, the configuration of
// the `micro server` it runs in place of the tests.
const helperEnv = "M3O_SERVER_TEST_CONFIG"

// adminPassword is the bootstrap admin's password.
const adminPassword = "admin-password-123"

// canary is a variable of the server's own environment that no instance
// may see.
const canary = "M3O_SERVER_CANARY_SECRET"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(serveHelper(cfg))
	}
	root, err := os.MkdirTemp("", "m3o-server-test-runtime-")
	if err == nil {
		err = os.Chmod(root, 0o711)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime root:", err)
		os.Exit(2)
	}
	runtimeRoot = root
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// runtimeRoot holds the runtime dirs config gives the platforms the tests
// start; TestMain removes it when they are done.
var runtimeRoot string

// testRuntimeDir is the runtime dir of the platform on data dir dir, the
// same for every start on it. The default, for a data dir as private as
// t.TempDir's and a server running as root, is under
// /var/lib/m3o/runtime, where nothing would remove it.
func testRuntimeDir(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(runtimeRoot, hex.EncodeToString(sum[:8]))
}

// serveHelper runs `micro server` with the JSON configuration cfg until
// SIGTERM, printing "ready <grpc address>" once it serves.
func serveHelper(cfg string) int {
	var c server.Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := server.Start(ctx, c, logger, io.Discard)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	fmt.Println("ready", p.GRPCAddress())
	if err := p.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "wait:", err)
		return 1
	}
	return 0
}

// microServer is `micro server` running in a child process, which a test
// can kill -9 and start again on the same directories.
type microServer struct {
	t          *testing.T
	cfg        server.Config
	cmd        *exec.Cmd
	exited     chan struct{}
	output     *lockedBuffer
	grpcAddr   string
	runtimeDir string
}

// newMicroServer prepares a server with its own data dir and a runtime
// dir that the namespaces' uids can reach.
func newMicroServer(t *testing.T) *microServer {
	t.Helper()
	root, err := os.MkdirTemp("", "m3o-server-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o711); err != nil {
		t.Fatal(err)
	}
	s := &microServer{t: t, output: &lockedBuffer{}, runtimeDir: filepath.Join(root, "runtime")}
	s.cfg = server.Config{
		DataDir: filepath.Join(root, "data"), RuntimeDir: s.runtimeDir, Address: "127.0.0.1:0", HTTPAddress: "127.0.0.1:0",
		Store: server.StorePebble, AdminPassword: adminPassword, ModuleCache: moduleCache(t), GoProxy: goEnv(t, "GOPROXY"), GoSumDB: "off",
	}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("server output:\n%s", s.output)
		}
	})
	return s
}

// start runs the server and waits until it serves.
func (s *microServer) start() {
	s.t.Helper()
	cfg, _ := json.Marshal(s.cfg)
	s.cmd = exec.Command(os.Args[0], "-test.run=^$")
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), helperEnv + "=" + string(cfg), canary + "=hunter2"}
	s.cmd.Stderr = s.output
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	// A restart on the first start's port binds it here first, waiting
	// out whatever holds it for a moment, and hands the socket over.
	if err := faulttest.StartHandingOver(s.cmd, s.cfg.Address); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	s.grpcAddr = s.waitReady(stdout)
}

// waitReady reads the helper's ready line.
func (s *microServer) waitReady(stdout io.Reader) string {
	s.t.Helper()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- addr
			}
		}
	}()
	select {
	case addr := <-ready:
		return addr
	case <-s.exited:
		s.t.Fatalf("micro server exited before it was ready\n%s", s.output)
	case <-time.After(2 * time.Minute):
		s.t.Fatalf("micro server not ready after 2 minutes\n%s", s.output)
	}
	return ""
}

// kill9 kills the server with SIGKILL, as a crash or an operator would,
// and waits for it to be gone.
func (s *microServer) kill9() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (s *microServer) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("micro server after SIGTERM exited %d, want 0", code)
		}
	case <-time.After(2 * time.Minute):
		s.t.Fatal("micro server still running 2 minutes after SIGTERM")
	}
}

func (s *microServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// conn connects to the public gRPC port as a client that trusts the
// platform CA, as the CLI does.
func (s *microServer) conn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(s.cfg.DataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// login logs name in to ns through the proxy and returns a context that
// carries its token.
func login(t *testing.T, conn *grpc.ClientConn, ns, name, secret string) context.Context {
	t.Helper()
	resp, err := authv1.NewAuthServiceClient(conn).Token(t.Context(), &authv1.TokenRequest{Namespace: ns, Id: name, Secret: secret})
	if err != nil {
		t.Fatalf("Token(%s/%s) = %v", ns, name, err)
	}
	return identity.WithBearer(t.Context(), resp.GetToken().GetAccessToken())
}

// tenant creates an account in ns as the admin and logs it in.
func tenant(t *testing.T, conn *grpc.ClientConn, admin context.Context, ns, name string) context.Context {
	t.Helper()
	const secret = "tenant-secret-123"
	_, err := authv1.NewAccountsServiceClient(conn).Create(admin, &authv1.CreateRequest{
		Namespace: ns, Name: name, Secret: secret, Roles: []string{"admin", "developer"},
	})
	if err != nil {
		t.Fatalf("Create(%s/%s) = %v", ns, name, err)
	}
	return login(t, conn, ns, name, secret)
}

// moduleCache is this machine's module download cache, which seeds the
// builds' modules; what it lacks comes from this machine's GOPROXY.
func moduleCache(t *testing.T) string {
	return filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download")
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
