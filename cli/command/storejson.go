package command

import (
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode/utf8"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

// Encodings of a value in JSON output.
const (
	encodingText   = "text"   // value is the stored text, as a JSON string
	encodingJSON   = "json"   // value is the stored JSON document itself
	encodingBase64 = "base64" // value is base64 of bytes that are not UTF-8
)

// recordJSON is a record in `--output json`: its value as the text or JSON
// it holds, and base64 only for bytes that are neither, which value_encoding
// says.
type recordJSON struct {
	Key           string            `json:"key"`
	Value         json.RawMessage   `json:"value"`
	ValueEncoding string            `json:"value_encoding"`
	Version       uint64            `json:"version"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	ExpiresAt     *time.Time        `json:"expires_at,omitempty"`
}

// readOutput is a prefix or suffix read in `--output json`.
type readOutput struct {
	Records       []recordJSON `json:"records"`
	NextPageToken string       `json:"next_page_token,omitempty"`
}

func recordOutput(r *storev1.Record) recordJSON {
	value, encoding := encodeValue(r.GetValue())
	out := recordJSON{Key: r.GetKey(), Value: value, ValueEncoding: encoding, Version: r.GetVersion(), Metadata: r.GetMetadata()}
	if r.GetExpiresAt() != nil {
		at := r.GetExpiresAt().AsTime()
		out.ExpiresAt = &at
	}
	return out
}

// encodeValue returns a stored value as JSON and how it was encoded.
func encodeValue(v []byte) (json.RawMessage, string) {
	switch {
	case json.Valid(v):
		return json.RawMessage(v), encodingJSON
	case utf8.Valid(v):
		text, _ := json.Marshal(string(v))
		return text, encodingText
	}
	b64, _ := json.Marshal(base64.StdEncoding.EncodeToString(v))
	return b64, encodingBase64
}
