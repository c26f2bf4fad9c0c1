package skeleton

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
)

func TestNewNames(t *testing.T) {
	tests := []struct {
		service, module string
		want            names
	}{
		{"hello", "", names{Service: "hello", Module: "hello", ProtoPackage: "hello", ProtoService: "Hello", GoPackage: "hellopb", ProtoFile: "proto/hello.proto"}},
		{"my-svc", "", names{Service: "my-svc", Module: "my-svc", ProtoPackage: "my_svc", ProtoService: "MySvc", GoPackage: "mysvcpb", ProtoFile: "proto/my_svc.proto"}},
		{"a1-b2-c3", "example.com/x/a", names{Service: "a1-b2-c3", Module: "example.com/x/a", ProtoPackage: "a1_b2_c3", ProtoService: "A1B2C3", GoPackage: "a1b2c3pb", ProtoFile: "proto/a1_b2_c3.proto"}},
		{"log", "", names{Service: "log", Module: "example.com/log", ProtoPackage: "log", ProtoService: "Log", GoPackage: "logpb", ProtoFile: "proto/log.proto"}},
		{"m3o-tools", "", names{Service: "m3o-tools", Module: "m3o-tools", ProtoPackage: "m3o_tools", ProtoService: "M3oTools", GoPackage: "m3otoolspb", ProtoFile: "proto/m3o_tools.proto"}},
	}
	for _, tc := range tests {
		got, err := newNames(tc.service, tc.module)
		if err != nil || got != tc.want {
			t.Errorf("newNames(%q, %q) = %+v, %v, want %+v", tc.service, tc.module, got, err, tc.want)
		}
	}
}

func TestNewNamesRefuses(t *testing.T) {
	for _, tc := range []struct{ service, module string }{
		{"", ""}, {"Hello", ""}, {"1hello", ""}, {"hello-", ""}, {"-hello", ""}, {"he_llo", ""},
		{"m3o", ""}, {strings.Repeat("a", 64), ""}, {"hello", "bad path!"}, {"hello", "/abs"},
	} {
		if _, err := newNames(tc.service, tc.module); !errors.Is(err, ErrInvalidName) {
			t.Errorf("newNames(%q, %q) = %v, want ErrInvalidName", tc.service, tc.module, err)
		}
	}
}

func TestSuggestName(t *testing.T) {
	for in, want := range map[string]string{
		"My_Service": "my-service", "Hello": "hello", "api.v2": "api-v2", " spaced name ": "spaced-name",
		"_hidden_": "hidden", "hello": "", "1abc": "", "über": "", strings.Repeat("A", 64): "",
	} {
		if got := SuggestName(in); got != want {
			t.Errorf("SuggestName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestProtoFile compares the .proto of hello with the one in testdata,
// which protoc compiles to the descriptor the code is generated from.
func TestProtoFile(t *testing.T) {
	n, _ := newNames("hello", "")
	want, err := os.ReadFile(filepath.Join("testdata", "hello.proto"))
	if err != nil {
		t.Fatal(err)
	}
	if got := newAPI(n).protoFile(); got != string(want) {
		t.Errorf("protoFile(hello) =\n%s\nwant\n%s", got, want)
	}
}

// TestDescriptor checks that the descriptor of each name is a valid file
// whose names are the ones the .proto file declares.
func TestDescriptor(t *testing.T) {
	for _, name := range []string{"hello", "my-svc", "a1-b2"} {
		n, _ := newNames(name, "")
		a := newAPI(n)
		fd, err := protodesc.NewFile(a.descriptor(), protoregistry.GlobalFiles)
		if err != nil {
			t.Fatalf("descriptor(%s): %v", name, err)
		}
		text := a.protoFile()
		m := fd.Services().Get(0).Methods().Get(0)
		for _, decl := range []string{
			"package " + string(fd.Package()) + ";",
			"service " + string(fd.Services().Get(0).Name()) + " {",
			"rpc Call(" + string(m.Input().Name()) + ") returns (" + string(m.Output().Name()) + ");",
			"string " + string(m.Input().Fields().Get(0).Name()) + " = 1;",
			"string " + string(m.Output().Fields().Get(0).Name()) + " = 1;",
		} {
			if !strings.Contains(text, decl) {
				t.Errorf("the .proto of %s lacks %q, which its descriptor has", name, decl)
			}
		}
		if loc := fd.SourceLocations().ByDescriptor(m); !strings.Contains(loc.LeadingComments, "Call answers") {
			t.Errorf("descriptor(%s): method comment = %q, want the .proto's", name, loc.LeadingComments)
		}
	}
}

func TestWriteRefusesAFolderWithFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(Options{Name: "hello", Dir: dir}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Write into a folder with files = %v, want ErrNotEmpty", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(data) != "package main\n" {
		t.Errorf("Write changed a file it refused to overwrite: %q", data)
	}
}

func TestInstallSDK(t *testing.T) {
	root := t.TempDir()
	dir, err := InstallSDK(root)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(root, SDKVersion) {
		t.Errorf("InstallSDK = %s, want %s", dir, filepath.Join(root, SDKVersion))
	}
	for _, f := range []string{"pkg/go.mod", "pkg/service/service.go", "proto/go.mod", "proto/m3o/store/v1/store.pb.go"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("installed SDK lacks %s: %v", f, err)
		}
	}
	// Another build of micro left other content: it is replaced.
	stale := filepath.Join(dir, "pkg", "stale.go")
	os.WriteFile(stale, []byte("package pkg\n"), 0o644)
	os.WriteFile(filepath.Join(dir, digestFile), []byte("0000\n"), 0o644)
	if _, err := InstallSDK(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a stale SDK was kept: %s exists (%v)", stale, err)
	}
}
