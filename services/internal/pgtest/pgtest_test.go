package pgtest

import (
	"net"
	"strconv"
	"testing"
)

// TestStartMovesOffATakenPort gives the server a port another process
// holds, as happens when the port is taken between choosing and binding:
// the server starts on another one and answers there.
func TestStartMovesOffATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	s := startOn(t, takenPort)
	if s.port == takenPort {
		t.Fatalf("server reports port %d, the one already taken", s.port)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
	if err != nil {
		t.Fatalf("nothing listens on the server's port %d: %v", s.port, err)
	}
	conn.Close()
}
