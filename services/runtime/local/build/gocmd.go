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

// headLines keeps the first max lines written to it.
type headLines struct {
	max   int
	buf   bytes.Buffer
	lines int
}

// Write implements io.Writer.
func (h *headLines) Write(p []byte) (int, error) {
	for _, c := range p {
		if h.lines >= h.max {
			break
		}
		h.buf.WriteByte(c)
		if c == '\n' {
			h.lines++
		}
	}
	return len(p), nil
}

// String returns the kept lines.
func (h *headLines) String() string {
	s := strings.TrimRight(h.buf.String(), "\n")
	if s == "" {
		return "the go command failed without output"
	}
	return s
}
