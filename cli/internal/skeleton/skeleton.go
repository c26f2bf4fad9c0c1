// Package skeleton writes the folder of a new service, as `micro new`
// does: go.mod and go.sum, main.go, a handler, the proto API and its
// generated Go code, a README and a Makefile.
//
// The folder builds offline on the first try, with `go build` and on the
// platform. Its go.mod requires the SDK micro ships (m3o.dev/pkg at
// SDKVersion) and, at the SDK's own versions, every module the SDK needs,
// with their checksums in go.sum. No module proxy serves the SDK, so a
// go.work beside go.mod points `go build` at the copy InstallSDK writes;
// the platform ignores it and builds with its own copy.
//
// The Go code of the proto is generated when the folder is written, in
// process: the API's descriptor is built from the same description as the
// .proto file, and protoc-gen-go's generator and a gRPC generator laid out
// as protoc-gen-go-grpc's run over it. No protoc is needed, and every name
// in the code follows from the service's name, dashes included.
package skeleton

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// ErrNotEmpty means the folder to write into holds files already.
var ErrNotEmpty = errors.New("the folder exists and is not empty")

// templates are the skeleton's hand-written files.
//
//go:embed templates
var templates embed.FS

// Options say what to write where.
type Options struct {
	// Name is the service's name, a DNS label such as "hello" or "my-svc".
	Name string
	// Module is the Go module path; empty means Name, or example.com/Name
	// when Name is a standard library package's, such as log.
	Module string
	// Dir is the folder to write; it must not exist or be empty.
	Dir string
	// SDKDir is where InstallSDK put the SDK; the go.work names it. Empty
	// writes no go.work.
	SDKDir string
}

// Result is what Write wrote.
type Result struct {
	// Files are the paths of the files, relative to Dir and sorted.
	Files []string
	// Module is the Go module path.
	Module string
	// Method is the skeleton's method as `micro call` takes it, such as
	// "MySvc.Call".
	Method string
}

// Write writes the skeleton. An invalid name or module path matches
// ErrInvalidName; a folder with files in it, ErrNotEmpty.
func Write(opts Options) (Result, error) {
	n, err := newNames(opts.Name, opts.Module)
	if err != nil {
		return Result{}, err
	}
	files, err := render(n, opts.SDKDir)
	if err != nil {
		return Result{}, err
	}
	if err := checkEmpty(opts.Dir); err != nil {
		return Result{}, err
	}
	paths := slices.Sorted(maps.Keys(files))
	for _, rel := range paths {
		if err := writeFile(filepath.Join(opts.Dir, filepath.FromSlash(rel)), files[rel]); err != nil {
			return Result{}, err
		}
	}
	return Result{Files: paths, Module: n.Module, Method: n.ProtoService + ".Call"}, nil
}

// render returns every file of the skeleton by its path.
func render(n names, sdkDir string) (map[string][]byte, error) {
	a := newAPI(n)
	files, err := generate(a.descriptor())
	if err != nil {
		return nil, err
	}
	files[n.ProtoFile] = []byte(a.protoFile())
	if err := renderTemplates(n, files); err != nil {
		return nil, err
	}
	if files["go.mod"], err = goMod(n.Module); err != nil {
		return nil, err
	}
	if files["go.sum"], err = goSum(); err != nil {
		return nil, err
	}
	if sdkDir != "" {
		if files["go.work"], err = goWork(sdkDir); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// templateFiles maps each template to the file it becomes.
var templateFiles = map[string]string{
	"main.go.tmpl":         "main.go",
	"handler.go.tmpl":      "handler/handler.go",
	"handler_test.go.tmpl": "handler/handler_test.go",
	"README.md.tmpl":       "README.md",
	"Makefile.tmpl":        "Makefile",
	"gitignore.tmpl":       ".gitignore",
}

// renderTemplates adds the hand-written files to files; Go files are
// formatted, which also proves they parse.
func renderTemplates(n names, files map[string][]byte) error {
	data := struct {
		names
		SDKVersion string
	}{n, SDKVersion}
	for tmpl, rel := range templateFiles {
		t, err := template.ParseFS(templates, "templates/"+tmpl)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return fmt.Errorf("render %s: %w", rel, err)
		}
		out := b.Bytes()
		if strings.HasSuffix(rel, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("render %s: %w", rel, err)
			}
		}
		files[rel] = out
	}
	return nil
}

// checkEmpty refuses a folder that holds anything.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s: %w", dir, ErrNotEmpty)
	}
	return nil
}

// writeFile writes one file, making its folder.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
