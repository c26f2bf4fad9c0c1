package grpcserver

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// A request the server cannot decode is the caller's fault, yet grpc-go
// answers it with Internal, and writes that status the moment decoding
// fails, before the handler could say otherwise. So the server's codec
// never fails: it notes the failure against the message it was decoding
// into, and the handler's decode step, which every registered service goes
// through (see registrar), turns the note into InvalidArgument naming the
// message the method takes.

// decodeCodec is the proto codec with decoding failures noted, not
// returned.
type decodeCodec struct {
	encoding.CodecV2
	failed *sync.Map // message → error
}

// newDecodeCodec wraps the registered proto codec.
func newDecodeCodec() decodeCodec {
	return decodeCodec{CodecV2: encoding.GetCodecV2("proto"), failed: &sync.Map{}}
}

// Unmarshal implements encoding.CodecV2.
func (c decodeCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if err := c.CodecV2.Unmarshal(data, v); err != nil {
		c.failed.Store(v, err)
	}
	return nil
}

// check returns InvalidArgument when decoding into v failed, forgetting
// the failure, or err.
func (c decodeCodec) check(err error, v any) error {
	if _, failed := c.failed.LoadAndDelete(v); !failed {
		return err
	}
	name := "request"
	if m, ok := v.(proto.Message); ok {
		name = string(m.ProtoReflect().Descriptor().FullName())
	}
	return status.Errorf(codes.InvalidArgument, "The request is not a valid %s message.", name)
}

// registrar registers services with their decode step checked.
type registrar struct {
	s     *grpc.Server
	codec decodeCodec
}

// RegisterService implements grpc.ServiceRegistrar.
func (r registrar) RegisterService(sd *grpc.ServiceDesc, impl any) {
	wrapped := *sd
	wrapped.Methods = make([]grpc.MethodDesc, len(sd.Methods))
	for i, m := range sd.Methods {
		wrapped.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName, Handler: r.unary(m.Handler)}
	}
	wrapped.Streams = make([]grpc.StreamDesc, len(sd.Streams))
	for i, st := range sd.Streams {
		st.Handler = r.stream(st.Handler)
		wrapped.Streams[i] = st
	}
	r.s.RegisterService(&wrapped, impl)
}

// GetServiceInfo implements reflection.ServiceInfoProvider.
func (r registrar) GetServiceInfo() map[string]grpc.ServiceInfo { return r.s.GetServiceInfo() }

func (r registrar) unary(h grpc.MethodHandler) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		return h(srv, ctx, func(v any) error { return r.codec.check(dec(v), v) }, icpt)
	}
}

func (r registrar) stream(h grpc.StreamHandler) grpc.StreamHandler {
	return func(srv any, ss grpc.ServerStream) error { return h(srv, checkedStream{ss, r.codec}) }
}

// checkedStream checks each received message's decoding.
type checkedStream struct {
	grpc.ServerStream
	codec decodeCodec
}

// RecvMsg implements grpc.ServerStream.
func (s checkedStream) RecvMsg(m any) error { return s.codec.check(s.ServerStream.RecvMsg(m), m) }
