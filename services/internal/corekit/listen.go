package corekit

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// ListenFDsEnv hands a process sockets that its parent bound for it: the
// addresses they listen on, comma-separated, in order from file descriptor
// 3 (exec.Cmd's ExtraFiles). Listen takes over such a socket for its
// address instead of binding a new one, so that a parent that chose a port
// (a test harness, or a supervisor that binds ports itself) leaves no moment
// in which another process could take it.
const ListenFDsEnv = "MICRO_LISTEN_FDS"

// Listen listens on the TCP address addr, or takes over the socket bound to
// addr that the parent handed over through ListenFDsEnv.
func Listen(addr string) (net.Listener, error) {
	f := handedOver().take(addr)
	if f == nil {
		return net.Listen("tcp", addr)
	}
	defer f.Close()
	lis, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: the socket handed over in %s: %w", addr, ListenFDsEnv, err)
	}
	return lis, nil
}

// sockets are the handed-over sockets not yet taken, by address.
type sockets struct {
	mu    sync.Mutex
	files map[string]*os.File
}

// handedOver reads ListenFDsEnv once, and removes it from the environment
// so that the process's own children do not take it as theirs.
var handedOver = sync.OnceValue(func() *sockets {
	s := &sockets{files: map[string]*os.File{}}
	list := os.Getenv(ListenFDsEnv)
	os.Unsetenv(ListenFDsEnv)
	if list == "" {
		return s
	}
	for i, addr := range strings.Split(list, ",") {
		fd := 3 + i
		// Inherited descriptors stay open across exec; one never taken
		// must not reach the processes this one starts.
		syscall.CloseOnExec(fd)
		s.files[addr] = os.NewFile(uintptr(fd), "socket for "+addr)
	}
	return s
})

// take returns the socket handed over for addr, at most once.
func (s *sockets) take(addr string) *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[addr]
	delete(s.files, addr)
	return f
}
