// Package grpctest is a tiny gRPC service for the tests of this module's
// server-side packages: one unary method and one server-streaming method,
// each backed by a function the test supplies, so that no test needs
// generated code.
package grpctest

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Full method names of the service.
const (
	CallMethod  = "/m3o.test.v1.TestService/Call"
	WatchMethod = "/m3o.test.v1.TestService/Watch"
)

// Handlers are the functions behind the service's methods. A nil function
// echoes its input.
type Handlers struct {
	// Call answers CallMethod.
	Call func(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	// Watch answers WatchMethod by sending each value it returns.
	Watch func(ctx context.Context, in *wrapperspb.StringValue) ([]string, error)
}

// Register registers the service on s.
func Register(s grpc.ServiceRegistrar, h Handlers) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "m3o.test.v1.TestService",
		HandlerType: (*any)(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Call", Handler: h.callHandler}},
		Streams:     []grpc.StreamDesc{{StreamName: "Watch", Handler: h.watchHandler, ServerStreams: true}},
	}, h)
}

func (h Handlers) callHandler(_ any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, req any) (any, error) {
		if h.Call == nil {
			return req, nil
		}
		return h.Call(ctx, req.(*wrapperspb.StringValue))
	}
	if icpt == nil {
		return call(ctx, in)
	}
	return icpt(ctx, in, &grpc.UnaryServerInfo{FullMethod: CallMethod}, call)
}

func (h Handlers) watchHandler(_ any, ss grpc.ServerStream) error {
	in := new(wrapperspb.StringValue)
	if err := ss.RecvMsg(in); err != nil {
		return err
	}
	out := []string{in.GetValue()}
	if h.Watch != nil {
		var err error
		if out, err = h.Watch(ss.Context(), in); err != nil {
			return err
		}
	}
	for _, v := range out {
		if err := ss.SendMsg(wrapperspb.String(v)); err != nil {
			return err
		}
	}
	return nil
}

// Call invokes CallMethod on conn.
func Call(ctx context.Context, conn grpc.ClientConnInterface, in string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(ctx, CallMethod, wrapperspb.String(in), out, opts...)
	return out.GetValue(), err
}

// Watch invokes WatchMethod on conn and collects what it streams.
func Watch(ctx context.Context, conn grpc.ClientConnInterface, in string) ([]string, error) {
	desc := &grpc.StreamDesc{StreamName: "Watch", ServerStreams: true}
	st, err := conn.NewStream(ctx, desc, WatchMethod)
	if err != nil {
		return nil, err
	}
	if err := st.SendMsg(wrapperspb.String(in)); err != nil {
		return nil, err
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		out := new(wrapperspb.StringValue)
		if err := st.RecvMsg(out); err != nil {
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			return got, err
		}
		got = append(got, out.GetValue())
	}
}
