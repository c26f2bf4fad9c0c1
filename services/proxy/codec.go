package proxy

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"
)

// frame is one gRPC message exactly as it crossed the wire. The proxy never
// decodes what it forwards, so it costs the same whatever the message type.
type frame struct {
	payload []byte
}

// rawCodec passes frames through untouched and falls back to protobuf for
// everything else, so the proxy's own services (health) still work on a
// server whose codec is forced.
type rawCodec struct{}

var _ encoding.Codec = rawCodec{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case *frame:
		return m.payload, nil
	case proto.Message:
		return proto.Marshal(m)
	default:
		return nil, fmt.Errorf("raw codec cannot marshal %T", v)
	}
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	switch m := v.(type) {
	case *frame:
		// gRPC reuses its receive buffer, so the frame keeps its own copy.
		m.payload = append(m.payload[:0], data...)
		return nil
	case proto.Message:
		return proto.Unmarshal(data, m)
	default:
		return fmt.Errorf("raw codec cannot unmarshal into %T", v)
	}
}

// Name is "proto" so that peers see an ordinary application/grpc content type.
func (rawCodec) Name() string { return "proto" }
