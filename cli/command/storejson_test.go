package command

import (
	"encoding/json"
	"testing"

	storev1 "m3o.dev/proto/m3o/store/v1"
)

func TestRecordOutputShowsValuesAsTheyAre(t *testing.T) {
	tests := []struct {
		name     string
		value    []byte
		want     string
		encoding string
	}{
		{"text", []byte("hello world"), `"hello world"`, encodingText},
		{"json object", []byte(`{"age":42}`), `{"age":42}`, encodingJSON},
		{"json number", []byte(`42`), `42`, encodingJSON},
		{"empty", []byte{}, `""`, encodingText},
		{"binary", []byte{0xff, 0x00, 0x01}, `"/wAB"`, encodingBase64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := json.Marshal(recordOutput(&storev1.Record{Key: "k", Value: tt.value, Version: 3}))
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Value         json.RawMessage `json:"value"`
				ValueEncoding string          `json:"value_encoding"`
				Version       uint64          `json:"version"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if string(got.Value) != tt.want || got.ValueEncoding != tt.encoding || got.Version != 3 {
				t.Errorf("recordOutput(%q) = %s, want value %s with encoding %s and version 3", tt.value, out, tt.want, tt.encoding)
			}
		})
	}
}
