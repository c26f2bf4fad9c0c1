package build

import (
	"maps"
	"strings"
	"testing"
)

func TestPinSDKRequires(t *testing.T) {
	in := `module example.com/x

go 1.26

require m3o.dev/pkg v9.9.9 // pinned

require (
	github.com/a/b v1.2.3
	"m3o.dev/proto" v2.0.0 // indirect
	m3o.dev/pkgs v1.0.0
)
`
	out, asked := pinSDKRequires([]byte(in))
	if want := map[string]string{"m3o.dev/pkg": "v9.9.9", "m3o.dev/proto": "v2.0.0"}; !maps.Equal(asked, want) {
		t.Fatalf("asked = %v, want %v", asked, want)
	}
	for _, want := range []string{
		"require m3o.dev/pkg " + placeholderVersion + " // pinned",
		"m3o.dev/proto " + placeholderVersion + " // indirect",
		"github.com/a/b v1.2.3",
		"m3o.dev/pkgs v1.0.0",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pinned go.mod lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "v9.9.9") || strings.Contains(string(out), "v2.0.0") {
		t.Errorf("pinned go.mod still names the requested SDK versions:\n%s", out)
	}
}
