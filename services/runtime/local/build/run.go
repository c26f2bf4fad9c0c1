package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"m3o.dev/services/runtime/local/sandbox"
)

// Request is one build.
type Request struct {
	// Namespace owns the service; the build runs as its uid and uses its
	// caches.
	Namespace *sandbox.Namespace
	// Service is the service's name; it names the build directory
	// (build/<service>) and the binary (bin/<service>) in the namespace's
	// private tree.
	Service string
	// Source is the module's root, holding go.mod. The namespace's uid must
	// be able to read it, which Namespace.SourceDir provides.
	Source string
	// Package is the main package's directory relative to Source; empty
	// means the root.
	Package string
	// LogPath is where the full build log goes, replacing an older one. It
	// should be in a directory only the server can write, never in the
	// namespace's private tree.
	LogPath string
}

// Result is a successful build.
type Result struct {
	// Binary is the built program. A running older binary is unaffected:
	// the go command renames the new one into place.
	Binary string
	// Log is the build log's path.
	Log string
	// Note is the build log's line saying the go.mod asked for another
	// SDK than the one built with, or "".
	Note string
	// Duration is how long the build took.
	Duration time.Duration
}

// sdkModules are the modules the platform ships and replaces.
var sdkModules = []string{"m3o.dev/pkg", "m3o.dev/proto"}

// errTimeout is the cause of a build's deadline.
var errTimeout = errors.New("build deadline")

// Build builds the request's package and returns where the binary is. A
// compiler error returns an *Error (matching ErrBuildFailed); a source
// that is no module returns ErrInvalidModule.
func (b *Builder) Build(ctx context.Context, req Request) (Result, error) {
	if err := req.check(); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, b.opts.Timeout, errTimeout)
	defer cancel()
	logf, err := os.OpenFile(req.LogPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Result{}, fmt.Errorf("build %s: %w", req.Service, err)
	}
	defer logf.Close()
	began := time.Now()
	fmt.Fprintf(logf, "build %s/%s (package ./%s) at %s\n", req.Namespace.Name, req.Service, req.pkg(), began.UTC().Format(time.RFC3339))
	res, err := b.build(ctx, req, logf)
	res.Log, res.Duration = req.LogPath, time.Since(began)
	if err != nil {
		fmt.Fprintf(logf, "build failed after %s: %v\n", res.Duration.Round(time.Millisecond), err)
		return res, fmt.Errorf("build %s/%s: %w", req.Namespace.Name, req.Service, err)
	}
	fmt.Fprintf(logf, "build ok in %s: %s\n", res.Duration.Round(time.Millisecond), res.Binary)
	return res, nil
}

// check refuses a request the builder cannot use.
func (r Request) check() error {
	switch {
	case r.Namespace == nil:
		return errors.New("build: no namespace")
	case r.LogPath == "":
		return errors.New("build: no log path")
	case r.Package != "" && !filepath.IsLocal(r.Package):
		return fmt.Errorf("build: package %q is outside the module: %w", r.Package, ErrInvalidModule)
	}
	return nil
}

// pkg returns the package directory, "." for the root.
func (r Request) pkg() string {
	if r.Package == "" {
		return "."
	}
	return filepath.ToSlash(filepath.Clean(r.Package))
}

// build does the steps of Build, writing to the log.
func (b *Builder) build(ctx context.Context, req Request, log io.Writer) (Result, error) {
	modfile, asked, err := b.prepare(req)
	if err != nil {
		return Result{}, err
	}
	note, err := b.pointAtSDK(ctx, req, modfile, asked, log)
	if err != nil {
		return Result{}, err
	}
	if note != "" {
		fmt.Fprintln(log, note)
	}
	binary := filepath.Join(req.Namespace.Dir, "bin", req.Service)
	err = b.goCmd(ctx, req, log, nil, "build", "-modfile="+modfile, "-mod=mod", "-modcacherw",
		"-trimpath", "-buildvcs=false", "-o", binary, "./"+req.pkg())
	return Result{Binary: binary, Note: note}, err
}

// prepare makes the namespace's directories for the build and copies the
// developer's go.mod and go.sum into the build-private modfile, reading
// them through os.Root so a go.mod that links out of the source is
// refused. It returns the modfile's path and the SDK versions the go.mod
// asked for.
func (b *Builder) prepare(req Request) (string, map[string]string, error) {
	n := req.Namespace
	for _, d := range []string{"bin", "cache/go-build", "cache/mod", "go", "build/" + req.Service} {
		if _, err := n.Mkdir(d); err != nil {
			return "", nil, err
		}
	}
	root, err := os.OpenRoot(req.Source)
	if err != nil {
		return "", nil, fmt.Errorf("open source: %w", err)
	}
	defer root.Close()
	mod, err := root.ReadFile("go.mod")
	if err != nil {
		return "", nil, fmt.Errorf("read go.mod: %v: %w", err, ErrInvalidModule)
	}
	sum, err := root.ReadFile("go.sum")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("read go.sum: %v: %w", err, ErrInvalidModule)
	}
	rel := "build/" + req.Service
	mod, asked := pinSDKRequires(mod)
	if err := n.WriteFile(rel+"/go.mod", mod); err != nil {
		return "", nil, err
	}
	if err := n.WriteFile(rel+"/go.sum", sum); err != nil {
		return "", nil, err
	}
	return filepath.Join(n.Dir, "build", req.Service, "go.mod"), asked, nil
}

// goMod is the part of `go mod edit -json` the builder reads.
type goMod struct {
	Replace []struct {
		Old struct{ Path, Version string }
	}
}

// pointAtSDK replaces the SDK modules in the modfile with the shipped
// directories and returns the note for the log, if any.
func (b *Builder) pointAtSDK(ctx context.Context, req Request, modfile string, asked map[string]string, log io.Writer) (string, error) {
	var out bytes.Buffer
	if err := b.goCmd(ctx, req, log, &out, "mod", "edit", "-json", "-modfile="+modfile); err != nil {
		var be *Error
		if errors.As(err, &be) {
			return "", fmt.Errorf("go.mod: %s: %w", strings.TrimSpace(be.Output), ErrInvalidModule)
		}
		return "", err
	}
	var m goMod
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		return "", fmt.Errorf("go mod edit -json: %w", err)
	}
	args := []string{"mod", "edit", "-modfile=" + modfile}
	var dropped []string
	for _, r := range m.Replace {
		if isSDK(r.Old.Path) {
			old := r.Old.Path
			if r.Old.Version != "" {
				old += "@" + r.Old.Version
			}
			args, dropped = append(args, "-dropreplace="+old), append(dropped, old)
		}
	}
	for _, mod := range sdkModules {
		args = append(args, "-replace="+mod+"="+filepath.Join(b.opts.SDKDir, strings.TrimPrefix(mod, "m3o.dev/")))
	}
	if err := b.goCmd(ctx, req, log, nil, args...); err != nil {
		return "", err
	}
	return b.note(asked, dropped), nil
}

// isSDK reports whether path is one of the shipped modules.
func isSDK(path string) bool {
	for _, m := range sdkModules {
		if path == m {
			return true
		}
	}
	return false
}

// note says, in one line, where the go.mod asked for an SDK other than
// the shipped one.
func (b *Builder) note(versions map[string]string, dropped []string) string {
	var asked []string
	for _, mod := range sdkModules {
		if v, ok := versions[mod]; ok && v != b.opts.SDKVersion {
			asked = append(asked, mod+" "+v)
		}
	}
	if len(asked) == 0 && len(dropped) == 0 {
		return ""
	}
	shipped := "the SDK this platform ships"
	if b.opts.SDKVersion != "" {
		shipped += " (" + b.opts.SDKVersion + ")"
	}
	line := "note: building with " + shipped
	if len(asked) > 0 {
		line += "; go.mod requires " + strings.Join(asked, " and ")
	}
	if len(dropped) > 0 {
		line += "; go.mod's replace of " + strings.Join(dropped, " and ") + " is ignored"
	}
	return line
}
