package runtimetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"m3o.dev/services/runtime"
	"m3o.dev/services/runtime/source"
)

// programs are the test services' sources. Their go.mod files are stored
// as go.mod.txt: a directory holding a go.mod would be a module of its
// own, which embed refuses.
//
//go:embed testdata
var programs embed.FS

// Programs the suite deploys.
const (
	// Greeter keeps the instance contract by hand (see its source); its
	// environment steers it: GREETING, MODE (crash, return, silent), PRINT_ENV,
	// READ_FILE.
	Greeter = "greeter"
	// Broken does not compile.
	Broken = "broken"
	// Hello is a service on the SDK (m3o.dev/pkg/service) answering the
	// hello API of servicetest with GREETING; PRINT_ENV and READ_FILES
	// (comma separated) make it report its environment and what reading
	// files did.
	Hello = "hello"
)

// Program returns the source of one of the suite's programs. Tag sets the
// source's ID apart from another deployment of the same program, so that
// a backend that reuses fetched trees by ID fetches it again.
func Program(name, tag string) runtime.Source {
	return programSource{name: name, tag: tag}
}

// Archive returns a program's source as the CLI uploads a folder: a
// gzipped tar.
func Archive(name string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "m3o-program-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, name)
	if err := (programSource{name: name}).Fetch(context.Background(), src); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := source.Pack(&buf, src); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// programSource is an embedded program as a runtime.Source.
type programSource struct{ name, tag string }

// ID implements runtime.Source.
func (p programSource) ID() string {
	h := sha256.New()
	fs.WalkDir(programs, p.dir(), func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := fs.ReadFile(programs, name)
			fmt.Fprintf(h, "%s %d\n", name, len(data))
			h.Write(data)
		}
		return nil
	})
	return "test-" + p.name + "-" + p.tag + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

func (p programSource) dir() string { return path.Join("testdata", p.name) }

// Fetch implements runtime.Source: it writes the program beside dst and
// renames it into place, readable by everyone.
func (p programSource) Fetch(_ context.Context, dst string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".program-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(programs, p.dir(), func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(programs, name)
		if err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(name, p.dir()+"/"), ".txt")
		target := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
