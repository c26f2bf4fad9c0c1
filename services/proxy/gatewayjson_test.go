package proxy

import (
	"errors"
	"io"
	"strings"
	"testing"

	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	storev1 "m3o.dev/proto/m3o/store/v1"
)

// TestRequestJSONStreamsUploads decodes a client-streaming method's body,
// a run of JSON values, one message at a time, where a unary request's
// body must hold one value.
func TestRequestJSONStreamsUploads(t *testing.T) {
	dec := gatewayMarshaler().NewDecoder(strings.NewReader(`{"name":"hello","chunk":"YQ=="}` + "\n" + `{"chunk":"Yg=="}`))
	var chunks []string
	for {
		var req runtimev1.UploadRequest
		err := dec.Decode(&req)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Decode() = %v", err)
		}
		chunks = append(chunks, string(req.GetChunk()))
	}
	if strings.Join(chunks, ",") != "a,b" {
		t.Errorf("chunks = %q, want a and b", chunks)
	}
	var read storev1.ReadRequest
	err := gatewayMarshaler().NewDecoder(strings.NewReader(`{"key":"a"}` + "\n" + `{"key":"b"}`)).Decode(&read)
	if err == nil || !strings.Contains(err.Error(), "goes on after its JSON value") {
		t.Errorf("Decode() of two reads = %v, want a refusal of the second", err)
	}
}
