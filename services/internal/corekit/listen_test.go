package corekit

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
)

// helperAddrEnv makes the test binary a child that serves one connection
// on the socket its parent handed over.
const helperAddrEnv = "COREKIT_TEST_HANDED_ADDRESS"

func TestMain(m *testing.M) {
	if addr := os.Getenv(helperAddrEnv); addr != "" {
		os.Exit(serveOnce(addr))
	}
	os.Exit(m.Run())
}

// serveOnce listens on addr through Listen, answers one connection with
// "served" and reports how it went in its exit status.
func serveOnce(addr string) int {
	lis, err := Listen(addr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 2
	}
	conn, err := lis.Accept()
	if err != nil {
		return 3
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("served"))
	return 0
}

// TestListenTakesOverAHandedSocket hands a child process a bound socket
// and closes its own copy: the child can only answer on that address by
// taking the socket over, since binding the address anew fails while the
// handed-over socket is open in it.
func TestListenTakesOverAHandedSocket(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	f, err := lis.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = []string{helperAddrEnv + "=" + addr, ListenFDsEnv + "=" + addr}
	child.ExtraFiles = []*os.File{f}
	var stderr bytes.Buffer
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	lis.Close()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", addr, err)
	}
	defer conn.Close()
	got, _ := io.ReadAll(conn)
	if err := child.Wait(); err != nil || string(got) != "served" {
		t.Errorf("child answered %q and exited with %v, want %q and 0; stderr: %s", got, err, "served", &stderr)
	}
}

// TestListenWithoutHandover binds the address itself.
func TestListenWithoutHandover(t *testing.T) {
	lis, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen(127.0.0.1:0) = %v", err)
	}
	defer lis.Close()
	if addr := lis.Addr().(*net.TCPAddr); addr.Port == 0 || !addr.IP.IsLoopback() {
		t.Errorf("Listen(127.0.0.1:0) bound %s, want a loopback port", addr)
	}
}
