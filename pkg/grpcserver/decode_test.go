package grpcserver_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/pkg/grpcserver"
	"m3o.dev/pkg/internal/grpctest"
)

// rawCodec sends bytes as they are, to put a malformed message on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// TestMalformedRequestIsInvalidArgument sends bytes that are not a protobuf
// message to a unary and a streaming method: the caller is at fault, so
// the answer is InvalidArgument naming the message, never Internal.
func TestMalformedRequestIsInvalidArgument(t *testing.T) {
	e := start(t, grpcserver.Options{}, grpctest.Handlers{})
	garbage := []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}
	var out []byte
	err := e.conn.Invoke(t.Context(), grpctest.CallMethod, &garbage, &out, grpc.ForceCodec(rawCodec{}))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != "The request is not a valid google.protobuf.StringValue message." {
		t.Errorf("Call(malformed) = %v, want InvalidArgument naming google.protobuf.StringValue", err)
	}
	stream, err := e.conn.NewStream(t.Context(), &grpc.StreamDesc{ServerStreams: true}, grpctest.WatchMethod, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(&garbage); err != nil {
		t.Fatal(err)
	}
	stream.CloseSend()
	if err := stream.RecvMsg(&out); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Watch(malformed) = %v, want InvalidArgument", err)
	}
}
