package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"m3o.dev/pkg/platform"
)

// Call calls the method with the request written as JSON and hands each
// response to recv as indented JSON: one for a unary method, each message
// as it comes for a method that streams its responses. Options such as
// grpc.Header go to the call.
func (c *Client) Call(ctx context.Context, m Method, request []byte, recv func(json []byte) error, opts ...grpc.CallOption) error {
	req := dynamicpb.NewMessage(m.Desc.Input())
	if err := (protojson.UnmarshalOptions{Resolver: m.types}).Unmarshal(request, req); err != nil {
		return fmt.Errorf("the request is not a JSON %s: %s: %w", m.Desc.Input().FullName(), platform.JSONReason(err), ErrBadRequest)
	}
	ctx = c.outgoing(ctx)
	if !m.Desc.IsStreamingServer() {
		resp := dynamicpb.NewMessage(m.Desc.Output())
		if err := c.cc.Invoke(ctx, m.FullName(), req, resp, opts...); err != nil {
			return err
		}
		return m.emit(resp, recv)
	}
	return c.stream(ctx, m, req, recv, opts)
}

// stream calls a method that streams its responses.
func (c *Client) stream(ctx context.Context, m Method, req proto.Message, recv func([]byte) error, opts []grpc.CallOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, m.FullName(), opts...)
	if err != nil {
		return err
	}
	if err := s.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	for {
		resp := dynamicpb.NewMessage(m.Desc.Output())
		err := s.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := m.emit(resp, recv); err != nil {
			return err
		}
	}
}

// emit hands a response to recv as indented JSON with every field,
// formatted the same on every run (protojson's own spacing varies on
// purpose).
func (m Method) emit(resp proto.Message, recv func([]byte) error) error {
	data, err := protojson.MarshalOptions{Resolver: m.types, EmitUnpopulated: true}.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode the response as JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return fmt.Errorf("indent the response: %w", err)
	}
	return recv(out.Bytes())
}
