package platform_test

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/sourcecontextpb"

	"m3o.dev/pkg/platform"
)

func TestJSONReason(t *testing.T) {
	tests := []struct {
		json, want string
	}{
		{`{"nom":"Ann"}`, `unknown field "nom" (line 1, column 2)`},
		{`[1]`, `unexpected token [ (line 1, column 1)`},
		{`{"fileName":5}`, `invalid value for string field fileName: 5 (line 1, column 13)`},
		{`{"fileName":`, `the JSON ends too soon`},
	}
	for _, tt := range tests {
		err := protojson.Unmarshal([]byte(tt.json), &sourcecontextpb.SourceContext{})
		if got := platform.JSONReason(err); got != tt.want {
			t.Errorf("JSONReason(%q) = %q, want %q", err, got, tt.want)
		}
	}
}
