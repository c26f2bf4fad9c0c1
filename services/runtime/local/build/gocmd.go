package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"m3o.dev/services/runtime/local/sandbox"
)

// goCmd runs the go command as the namespace, in the module's directory.
// Its output goes to the log; stdout goes to out instead when out is set.
// A non-zero exit returns an *Error with the first lines of output.
func (b *Builder) goCmd(ctx context.Context, req Request, log, out io.Writer, args ...string) error {
	head := &headLines{max: OutputLines}
	stderr := io.MultiWriter(log, head)
	if out == nil {
		out = stderr
	}
	p, err := b.opts.Sandbox.Start(sandbox.Spec{
		Namespace: req.Namespace, Name: "build-" + req.Service, Path: b.opts.Go, Args: args,
		Dir: req.Source, Env: b.env(req.Namespace), Stdout: out, Stderr: stderr,
	})
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop(5 * time.Second)
		if context.Cause(ctx) == errTimeout {
			return &Error{Output: fmt.Sprintf("the build took longer than %s", b.opts.Timeout)}
		}
		return ctx.Err()
	}
	state, err := p.Wait()
	if state == nil {
		return err
	}
	if !state.Success() {
		return &Error{Output: head.String()}
	}
	return nil
}

// env is the build's whole environment besides PATH, HOME and TMPDIR.
func (b *Builder) env(n *sandbox.Namespace) []string {
	return []string{
		"CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=", "GOENV=off", "GOWORK=off", "GOTELEMETRY=off",
		"GOCACHE=" + filepath.Join(n.Dir, "cache", "go-build"),
		"GOMODCACHE=" + filepath.Join(n.Dir, "cache", "mod"),
		"GOPATH=" + filepath.Join(n.Dir, "go"),
		"GOPROXY=" + b.proxy(), "GOSUMDB=" + b.opts.SumDB,
		"GOPRIVATE=m3o.dev", "GONOSUMDB=m3o.dev", "GONOPROXY=m3o.dev", "GOINSECURE=", "GOVCS=*:off",
	}
}

// proxy is the GOPROXY list: the platform's download directory, then the
// upstream proxy.
func (b *Builder) proxy() string {
	var list []string
	if b.opts.ModuleDownloadDir != "" {
		list = append(list, "file://"+filepath.ToSlash(b.opts.ModuleDownloadDir))
	}
	if b.opts.Proxy != "off" {
		list = append(list, b.opts.Proxy)
	}
	if len(list) == 0 {
		return "off"
	}
	return strings.Join(list, ",")
}

// headLines keeps the first max lines written to it, less the go
// command's progress lines ("go: downloading m v1.2.3"): a first build
// fetches a dozen modules, whose lines would otherwise fill the service's
// error reason before the compiler's first error.
type headLines struct {
	max     int
	kept    []string
	partial []byte
}

// maxLine bounds a line kept whole; a longer one is cut there.
const maxLine = 4 << 10

// Write implements io.Writer.
func (h *headLines) Write(p []byte) (int, error) {
	if len(h.kept) >= h.max {
		return len(p), nil
	}
	h.partial = append(h.partial, p...)
	for len(h.kept) < h.max {
		i := bytes.IndexByte(h.partial, '\n')
		if i < 0 {
			// The rest of an overlong line is dropped as it comes.
			h.partial = h.partial[:min(len(h.partial), maxLine)]
			break
		}
		h.keep(string(h.partial[:min(i, maxLine)]))
		h.partial = h.partial[i+1:]
	}
	return len(p), nil
}

// keep adds a whole line unless it only reports progress.
func (h *headLines) keep(line string) {
	if !strings.HasPrefix(line, "go: downloading ") {
		h.kept = append(h.kept, line)
	}
}

// String returns the kept lines.
func (h *headLines) String() string {
	if len(h.partial) > 0 && len(h.kept) < h.max {
		h.keep(string(h.partial))
		h.partial = nil
	}
	s := strings.TrimRight(strings.Join(h.kept, "\n"), "\n")
	if s == "" {
		return "the go command failed without output"
	}
	return s
}
