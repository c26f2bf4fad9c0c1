// Package corekittest runs a core service binary's command in process, as
// its main would, for the tests of services/cmd/*: from certificate files,
// on a port the system picks, until the test ends.
package corekittest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
	"m3o.dev/pkg/platform"
)

// settle bounds how long a command may take to serve.
const settle = time.Minute

// CertFlags writes the certificate of micro/service, issued by ca, and
// returns the flags that name it.
func CertFlags(t testing.TB, ca *mtls.CA, service string) []string {
	t.Helper()
	dir := t.TempDir()
	if err := mtlstest.Bundle(t, ca, platform.Namespace, service).WriteFiles(dir, service); err != nil {
		t.Fatalf("WriteFiles(%s) = %v", service, err)
	}
	caFile, certFile, keyFile := mtls.BundleFiles(dir, service)
	return []string{"--ca-file", caFile, "--cert-file", certFile, "--key-file", keyFile}
}

// Running is a command started by Start.
type Running struct {
	// Address is where it serves gRPC.
	Address string
	logs    *logs
}

// Logs returns everything it has logged so far.
func (r *Running) Logs() string { return r.logs.String() }

// Start runs app with args, plus --address 127.0.0.1:0 and JSON logs,
// until the test ends, and returns once it serves. The test fails if it
// stops with an error, or does not serve in time.
func Start(t testing.TB, app *cli.App, args ...string) *Running {
	t.Helper()
	r, w := io.Pipe()
	l := &logs{}
	app.ErrWriter, app.Writer = w, io.Discard
	serving := make(chan string, 1)
	go l.scan(r, app.Name+" serving", serving)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	all := append([]string{app.Name, "--address", "127.0.0.1:0", "--log-format", "json", "--log-level", "info"}, args...)
	go func() { done <- app.RunContext(ctx, all); w.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s stopped with %v; logs:\n%s", app.Name, err, l)
		}
	})
	select {
	case addr := <-serving:
		return &Running{Address: addr, logs: l}
	case err := <-done:
		done <- err // for the cleanup, which waits for it
		t.Fatalf("%s stopped before serving: %v; logs:\n%s", app.Name, err, l)
	case <-time.After(settle):
		t.Fatalf("%s not serving after %s; logs:\n%s", app.Name, settle, l)
	}
	return nil
}

// Fails runs app with args and returns the error it stops with, which a
// bad configuration gives at once.
func Fails(t testing.TB, app *cli.App, args ...string) error {
	t.Helper()
	app.ErrWriter, app.Writer = io.Discard, io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	return app.RunContext(ctx, append([]string{app.Name, "--address", "127.0.0.1:0"}, args...))
}

// logs keeps what a command logged.
type logs struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scan keeps every line and sends the address of the first line whose
// message is msg; the pipe must be drained or the command would block.
func (l *logs) scan(r io.Reader, msg string, serving chan<- string) {
	sc := bufio.NewScanner(r)
	sent := false
	for sc.Scan() {
		l.mu.Lock()
		l.b.WriteString(sc.Text() + "\n")
		l.mu.Unlock()
		var line struct{ Msg, Address string }
		if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			serving <- line.Address
			sent = true
		}
	}
}
