package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"m3o.dev/pkg/platform"
)

// requestJSON is the gateway's marshaler with a decoder that says in a
// sentence what is wrong with a body it cannot decode, where grpc-gateway
// passes on the decoder's bare words ("unexpected EOF"), and that refuses
// anything after a unary request's JSON value, which grpc-gateway would
// ignore. A client-streaming method's body is a run of values, one a
// message.
type requestJSON struct {
	*runtime.HTTPBodyMarshaler
}

func (m requestJSON) NewDecoder(r io.Reader) runtime.Decoder {
	dec := json.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF // an empty body is an empty request
			}
			return notJSON(err)
		}
		msg, _ := v.(proto.Message) // what the gateway decodes always is
		if err := m.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("The request body is not a JSON %s: %s.", proto.MessageName(msg), platform.JSONReason(err))
		}
		if msg != nil && streamed(msg.ProtoReflect().Descriptor()) {
			return nil
		}
		rest, _ := io.ReadAll(io.MultiReader(dec.Buffered(), r))
		if len(bytes.TrimSpace(rest)) > 0 {
			return fmt.Errorf("The request body goes on after its JSON value, at byte %d.", dec.InputOffset())
		}
		return nil
	})
}

// notJSON says why a body is not JSON.
func notJSON(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("The request body is not valid JSON: %s at byte %d.", syntax, syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("The request body ends inside its JSON value.")
	}
	return fmt.Errorf("The request body could not be read: %v.", err)
}

// streamed reports whether md is the request of a client-streaming method
// in its own file, such as the runtime's Upload.
func streamed(md protoreflect.MessageDescriptor) bool {
	services := md.ParentFile().Services()
	for i := range services.Len() {
		methods := services.Get(i).Methods()
		for j := range methods.Len() {
			if m := methods.Get(j); m.IsStreamingClient() && m.Input().FullName() == md.FullName() {
				return true
			}
		}
	}
	return false
}

// maxPathShown caps how much of an unknown path an answer repeats.
const maxPathShown = 100

// NoAPI answers a path the gateway has no method at, in the gateway's JSON
// form, with the shape of the paths it has.
func NoAPI(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if len(path) > maxPathShown {
		path = path[:maxPathShown] + "…"
	}
	writeStatus(w, http.StatusNotFound, codes.NotFound, fmt.Sprintf(
		"There is no API at %s %s. The gateway's methods are POST /v1/SERVICE/METHOD, such as POST /v1/store/read, "+
			"and your services' POST /v1/call/SERVICE/ENDPOINT, such as POST /v1/call/hello/Hello.Call.", r.Method, path))
}
