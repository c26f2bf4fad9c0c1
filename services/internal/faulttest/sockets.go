package faulttest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"m3o.dev/services/internal/corekit"
)

// listenFlags are the flags by which a core service's command is told
// where to listen.
var listenFlags = []string{"--address", "--http-address", "--health-address"}

// reserved holds the sockets Address bound, by address, until a process
// that listens there takes them.
var reserved sync.Map

// Address returns a loopback address whose socket is already bound and
// listening, kept for the Process that is given it in one of listenFlags.
// No other process can take the port in between, as one could after a
// listen-then-close.
func Address(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	reserved.Store(addr, lis)
	t.Cleanup(func() {
		if l, ok := reserved.LoadAndDelete(addr); ok {
			l.(net.Listener).Close()
		}
	})
	return addr
}

// StartHandingOver starts cmd with the sockets of addrs handed over, for
// it to take over with corekit.Listen, and closes this process's copies:
// a socket left open here would keep accepting connections for the child
// after a kill.
func StartHandingOver(cmd *exec.Cmd, addrs ...string) error {
	sockets, env, err := handOver(addrs...)
	if err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, env)
	cmd.ExtraFiles = sockets
	err = cmd.Start()
	for _, f := range sockets {
		f.Close()
	}
	return err
}

// handOver binds addrs (or takes the sockets Address reserved for them)
// and returns them as the files and the environment entry of a child that
// takes them over. A restart binds its address again, waiting while the
// kernel still holds it; an address with port 0 is left for the child to
// bind.
func handOver(addrs ...string) (files []*os.File, env string, err error) {
	var handed []string
	for _, addr := range addrs {
		if strings.HasSuffix(addr, ":0") {
			continue
		}
		lis, err := bind(addr)
		if err != nil {
			return nil, "", err
		}
		f, err := lis.(*net.TCPListener).File()
		lis.Close()
		if err != nil {
			return nil, "", err
		}
		files, handed = append(files, f), append(handed, addr)
	}
	return files, corekit.ListenFDsEnv + "=" + strings.Join(handed, ","), nil
}

// listenAddresses are the values of listenFlags in args.
func listenAddresses(args []string) []string {
	var addrs []string
	for i, arg := range args {
		for _, flag := range listenFlags {
			addr, ok := strings.CutPrefix(arg, flag+"=")
			if arg == flag && i+1 < len(args) {
				addr, ok = args[i+1], true
			}
			if ok {
				addrs = append(addrs, addr)
			}
		}
	}
	return addrs
}

// bind returns the socket reserved for addr, or binds it, trying again
// for a while when it is still in use.
func bind(addr string) (net.Listener, error) {
	if l, ok := reserved.LoadAndDelete(addr); ok {
		return l.(net.Listener), nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		lis, err := net.Listen("tcp", addr)
		switch {
		case err == nil:
			return lis, nil
		case !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline):
			return nil, fmt.Errorf("bind %s for the process: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
