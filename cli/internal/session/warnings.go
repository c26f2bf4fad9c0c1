package session

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// PaymentWarningHeader is the response header the proxy adds to the calls
// of a namespace whose payment is past due but still in its grace period.
const PaymentWarningHeader = "m3o-payment-warning"

// warnings hands each distinct warning the platform sends to a callback,
// once per connection.
type warnings struct {
	mu   sync.Mutex
	f    func(string)
	seen map[string]bool
}

// OnWarning makes the connection call f with each warning the platform
// sends in a response, such as a payment that is past due; each distinct
// warning is reported once.
func (c *Conn) OnWarning(f func(string)) {
	c.warn.mu.Lock()
	defer c.warn.mu.Unlock()
	c.warn.f = f
}

// report passes the warnings of a response's header on.
func (w *warnings) report(md metadata.MD) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range md.Get(PaymentWarningHeader) {
		if w.f == nil || w.seen[v] {
			continue
		}
		if w.seen == nil {
			w.seen = map[string]bool{}
		}
		w.seen[v] = true
		w.f(v)
	}
}

// warnUnary reads the warnings of a unary call's response header.
func (c *Conn) warnUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	var header metadata.MD
	err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Header(&header))...)
	c.warn.report(header)
	return err
}

// warnStream reads the warnings of a stream's response header once its
// first message arrives.
func (c *Conn) warnStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &warnedStream{ClientStream: cs, warn: &c.warn}, nil
}

type warnedStream struct {
	grpc.ClientStream
	warn *warnings
	once sync.Once
}

// RecvMsg implements grpc.ClientStream.
func (s *warnedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	s.once.Do(func() {
		if md, herr := s.Header(); herr == nil {
			s.warn.report(md)
		}
	})
	return err
}
