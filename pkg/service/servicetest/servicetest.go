// Package servicetest gives the tests of the SDK and of the proxy's routing
// a user's service: Greeter, which serves the hello API of hellopb with a
// text of its own, counts the calls that reach it, remembers who made the
// last one, and can hold a call in flight until told to let it go.
package servicetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/identity"
	"m3o.dev/pkg/service/servicetest/hellopb"
)

// maxStream bounds StreamRequest.count.
const maxStream = 100

// Greeter implements hellopb.HelloServer. It is safe for concurrent use.
type Greeter struct {
	hellopb.UnimplementedHelloServer

	text    string
	calls   atomic.Int64
	held    chan string
	release chan struct{}
	once    sync.Once

	mu     sync.Mutex
	caller identity.Caller
	known  bool
}

var _ hellopb.HelloServer = (*Greeter)(nil)

// NewGreeter returns a Greeter that answers "<text> <name>".
func NewGreeter(text string) *Greeter {
	return &Greeter{text: text, held: make(chan string, 16), release: make(chan struct{})}
}

// Call implements hellopb.HelloServer.
func (g *Greeter) Call(ctx context.Context, req *hellopb.CallRequest) (*hellopb.CallResponse, error) {
	g.count(ctx)
	return &hellopb.CallResponse{Message: g.greet(req.GetName())}, nil
}

// Stream implements hellopb.HelloServer.
func (g *Greeter) Stream(req *hellopb.StreamRequest, stream grpc.ServerStreamingServer[hellopb.StreamResponse]) error {
	g.count(stream.Context())
	if req.GetCount() > maxStream {
		return status.Errorf(codes.InvalidArgument, "count %d is over %d", req.GetCount(), maxStream)
	}
	for i := range req.GetCount() {
		msg := fmt.Sprintf("%s (%d)", g.greet(req.GetName()), i+1)
		if err := stream.Send(&hellopb.StreamResponse{Message: msg}); err != nil {
			return err
		}
	}
	return nil
}

// Hold implements hellopb.HelloServer: it reports the call on Held, then
// answers once Release is called, or fails when the caller gives up.
func (g *Greeter) Hold(ctx context.Context, req *hellopb.HoldRequest) (*hellopb.HoldResponse, error) {
	g.count(ctx)
	select {
	case g.held <- req.GetName():
	default: // nobody is listening; the call is held all the same
	}
	select {
	case <-g.release:
		return &hellopb.HoldResponse{Message: "released " + req.GetName()}, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// Held receives the name of each held call once it is in its handler.
func (g *Greeter) Held() <-chan string { return g.held }

// Release lets every held call, and every later one, answer.
func (g *Greeter) Release() { g.once.Do(func() { close(g.release) }) }

// Calls returns how many calls reached the Greeter's handlers.
func (g *Greeter) Calls() int64 { return g.calls.Load() }

// LastCaller returns the caller the SDK put in the last call's context,
// and false when there was none.
func (g *Greeter) LastCaller() (identity.Caller, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.caller, g.known
}

// count records a call and its caller.
func (g *Greeter) count(ctx context.Context) {
	g.calls.Add(1)
	c, ok := identity.FromContext(ctx)
	g.mu.Lock()
	g.caller, g.known = c, ok
	g.mu.Unlock()
}

func (g *Greeter) greet(name string) string { return g.text + " " + name }
