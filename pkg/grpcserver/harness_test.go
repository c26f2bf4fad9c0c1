package grpcserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"

	"m3o.dev/pkg/grpcclient"
	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/internal/grpctest"
	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

// logBuffer collects log output written by server goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes the JSON log lines.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// env is a running server on a real mTLS loopback listener and a client
// connection to it as micro/proxy.
type env struct {
	srv    *grpcserver.Server
	conn   *grpc.ClientConn
	dial   func(opts ...grpc.DialOption) *grpc.ClientConn // another client as micro/proxy
	logs   *logBuffer
	reg    *prometheus.Registry
	cancel context.CancelFunc
	served chan error
}

// start runs a grpcserver with opts, the test service backed by h, over
// mTLS as micro/store.
func start(t *testing.T, opts grpcserver.Options, h grpctest.Handlers) *env {
	t.Helper()
	return startWith(t, opts, h, slog.LevelDebug, nil)
}

// startWith is start with the server logging from level up, and its
// listener wrapped by wrap unless wrap is nil.
func startWith(t *testing.T, opts grpcserver.Options, h grpctest.Handlers, level slog.Level, wrap func(net.Listener) net.Listener) *env {
	t.Helper()
	ca := mtlstest.NewCA(t)
	e := &env{logs: &logBuffer{}, reg: prometheus.NewRegistry(), served: make(chan error, 1)}
	opts.TLS = mtlstest.Bundle(t, ca, "micro", "store").ServerConfig()
	opts.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: level}))
	opts.Registerer = e.reg
	e.srv = grpcserver.New(opts)
	grpctest.Register(e.srv.GRPC(), h)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	if wrap != nil {
		lis = wrap(lis)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.served <- e.srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-e.served:
		case <-time.After(20 * time.Second):
			t.Errorf("Serve() did not return after its context ended")
		}
	})
	e.dial = func(opts ...grpc.DialOption) *grpc.ClientConn {
		t.Helper()
		conn, err := grpcclient.Dial(lis.Addr().String(), mtlstest.Bundle(t, ca, "micro", "proxy"), mtls.Identity{Namespace: "micro", Service: "store"}, opts...)
		if err != nil {
			t.Fatalf("Dial() = %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	e.conn = e.dial()
	return e
}

// counter returns the value of grpc_server_handled_total for method and
// code.
func (e *env) counter(t *testing.T, method, code string) float64 {
	t.Helper()
	return sample(t, e.reg, "grpc_server_handled_total", method, code, func(m *dto.Metric) float64 { return m.GetCounter().GetValue() })
}

// observations returns how many latencies were recorded for method, whatever
// their code: the standard histogram has no code label.
func (e *env) observations(t *testing.T, method string) float64 {
	t.Helper()
	return sample(t, e.reg, "grpc_server_handling_seconds", method, "", func(m *dto.Metric) float64 { return float64(m.GetHistogram().GetSampleCount()) })
}

func sample(t *testing.T, g prometheus.Gatherer, name, method, code string, value func(*dto.Metric) float64) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if "/"+labels["grpc_service"]+"/"+labels["grpc_method"] == method && labels["grpc_code"] == code {
				return value(m)
			}
		}
	}
	return 0
}

// failingListener fails every Accept.
type failingListener struct{}

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("accept: listener broken") }
func (failingListener) Close() error              { return nil }
func (failingListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// frameCounter is a plain-text listener whose connections count the PING
// frames, other than acknowledgements, that the server writes to them.
type frameCounter struct {
	net.Listener
	pings atomic.Int64
}

func (l *frameCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c, pings: &l.pings}, nil
}

// framedConn follows the HTTP/2 frames the server writes: each is a 9-byte
// header (length, type, flags, stream) and its payload.
type framedConn struct {
	net.Conn
	pings   *atomic.Int64
	pending []byte // bytes of an unfinished frame header
	skip    int    // payload bytes still to pass over
}

const (
	frameHeaderLen = 9
	framePing      = 0x6
	flagAck        = 0x1
)

func (c *framedConn) Write(p []byte) (int, error) {
	c.follow(p)
	return c.Conn.Write(p)
}

// follow consumes written bytes frame by frame.
func (c *framedConn) follow(p []byte) {
	for len(p) > 0 {
		if c.skip > 0 {
			n := min(c.skip, len(p))
			c.skip, p = c.skip-n, p[n:]
			continue
		}
		n := min(frameHeaderLen-len(c.pending), len(p))
		c.pending, p = append(c.pending, p[:n]...), p[n:]
		if len(c.pending) < frameHeaderLen {
			return
		}
		h := c.pending
		c.skip = int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		if h[3] == framePing && h[4]&flagAck == 0 {
			c.pings.Add(1)
		}
		c.pending = c.pending[:0]
	}
}
