package runtime

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"m3o.dev/pkg/lazyregexp"
	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
	"m3o.dev/services/internal/invalid"
	"m3o.dev/services/runtime/source"
)

// Limits of a request's fields besides those in runtime.go.
const (
	maxVersionLen   = 64
	maxMetaPairs    = 32
	maxMetaBytes    = 4 << 10
	maxEnvVars      = 64
	maxEnvBytes     = 64 << 10
	maxSourceURLLen = 2048
)

var (
	// namePattern is a DNS label, so that a service name is also a valid
	// Kubernetes object name.
	namePattern    = lazyregexp.New(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	versionPattern = lazyregexp.New(`^[A-Za-z0-9._+-]*$`)
	envNamePattern = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// options are how a service runs.
type options struct {
	Env       map[string]string `json:"env,omitempty"`
	Instances int               `json:"instances"`
	Resources Resources         `json:"resources"`
}

// change is what a Create or Update asks for; empty fields keep what the
// service has.
type change struct {
	version, source string
	metadata        map[string]string
	options         *options
}

// validateCreate checks a Create and returns the service and what it asks
// for.
func validateCreate(ctx context.Context, req *runtimev1.CreateRequest) (Ref, change, error) {
	ns, err := target(ctx, req.GetNamespace())
	if err != nil {
		return Ref{}, change{}, err
	}
	var c invalid.Checker
	c.Check("namespace", runnable(ns))
	svc := req.GetService()
	checkName(&c, "service.name", svc.GetName())
	if svc.GetSource() == "" {
		c.Addf("service.source", "is required: a source id from Upload or a git URL")
	}
	ch := checkChange(&c, svc, req.GetOptions())
	if ch.options == nil {
		ch.options = &options{}
	}
	ch.options = withDefaults(ch.options)
	return Ref{Namespace: ns, Name: svc.GetName()}, ch, c.Err()
}

// validateUpdate checks an Update.
func validateUpdate(ctx context.Context, req *runtimev1.UpdateRequest) (Ref, change, error) {
	ns, err := target(ctx, req.GetNamespace())
	if err != nil {
		return Ref{}, change{}, err
	}
	var c invalid.Checker
	c.Check("namespace", runnable(ns))
	svc := req.GetService()
	checkName(&c, "service.name", svc.GetName())
	ch := checkChange(&c, svc, req.GetOptions())
	if ch.options != nil {
		ch.options = withDefaults(ch.options)
	}
	return Ref{Namespace: ns, Name: svc.GetName()}, ch, c.Err()
}

// validateRef checks a request that names one service.
func validateRef(ctx context.Context, namespace, name string) (Ref, error) {
	ns, err := target(ctx, namespace)
	if err != nil {
		return Ref{}, err
	}
	var c invalid.Checker
	checkName(&c, "name", name)
	return Ref{Namespace: ns, Name: name}, c.Err()
}

// validateLogs checks a Logs call.
func validateLogs(ctx context.Context, req *runtimev1.LogsRequest) (Ref, LogOptions, error) {
	ref, err := validateRef(ctx, req.GetNamespace(), req.GetName())
	if err != nil {
		return Ref{}, LogOptions{}, err
	}
	if req.GetCount() > MaxLogLines {
		return Ref{}, LogOptions{}, invalid.Field("count", "must be at most %d", MaxLogLines)
	}
	opts := LogOptions{Count: int(req.GetCount()), Follow: req.GetStream() && !req.GetBuild(), Build: req.GetBuild()}
	if opts.Count == 0 {
		opts.Count = DefaultLogLines
	}
	if req.GetSince() != nil {
		opts.Since = req.GetSince().AsTime()
	}
	return ref, opts, nil
}

func checkName(c *invalid.Checker, field, name string) {
	if !namePattern.MatchString(name) {
		c.Addf(field, "must be a DNS label: 1 to 63 lower-case letters, digits and dashes, starting with a letter and not ending with a dash")
	}
}

// checkChange checks the fields a Create and an Update share.
func checkChange(c *invalid.Checker, svc *runtimev1.Service, opts *runtimev1.Options) change {
	if v := svc.GetVersion(); len(v) > maxVersionLen || !versionPattern.MatchString(v) {
		c.Addf("service.version", "must be at most %d letters, digits and . _ + -", maxVersionLen)
	}
	checkSource(c, svc.GetSource())
	checkMetadata(c, svc.GetMetadata())
	ch := change{version: svc.GetVersion(), source: svc.GetSource(), metadata: svc.GetMetadata()}
	if opts != nil {
		ch.options = checkOptions(c, opts)
	}
	return ch
}

// checkSource accepts a source id or a git URL the platform may fetch from.
func checkSource(c *invalid.Checker, src string) {
	if src == "" || platform.IsSourceID(src) {
		return
	}
	if len(src) > maxSourceURLLen {
		c.Addf("service.source", "must be at most %d bytes", maxSourceURLLen)
		return
	}
	if !strings.Contains(src, "://") && strings.HasPrefix(src, "src-") {
		c.Addf("service.source", "is not a source id from Upload")
		return
	}
	if _, _, err := source.ParseGitURL(src); err != nil {
		c.Addf("service.source", "%v", err)
	}
}

func checkMetadata(c *invalid.Checker, md map[string]string) {
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			c.Addf("service.metadata", "keys must be non-empty and keys and values UTF-8")
			return
		}
	}
	if len(md) > maxMetaPairs || size > maxMetaBytes {
		c.Addf("service.metadata", "must be at most %d pairs and %d bytes", maxMetaPairs, maxMetaBytes)
	}
}

// checkOptions checks the options and returns them.
func checkOptions(c *invalid.Checker, o *runtimev1.Options) *options {
	checkEnv(c, o.GetEnv())
	if o.GetInstances() > MaxInstances {
		c.Addf("options.instances", "must be at most %d", MaxInstances)
	}
	r := o.GetResources()
	if r.GetCpuMillis() > MaxCPUMillis {
		c.Addf("options.resources.cpu_millis", "must be at most %d", MaxCPUMillis)
	}
	if r.GetMemoryMib() > MaxMemoryMiB {
		c.Addf("options.resources.memory_mib", "must be at most %d", MaxMemoryMiB)
	}
	return &options{Env: o.GetEnv(), Instances: int(o.GetInstances()),
		Resources: Resources{CPUMillis: r.GetCpuMillis(), MemoryMiB: r.GetMemoryMib()}}
}

func checkEnv(c *invalid.Checker, env map[string]string) {
	size := 0
	for k, v := range env {
		size += len(k) + len(v) + 2
		switch {
		case !envNamePattern.MatchString(k):
			c.Addf("options.env", "%q is not a variable name: letters, digits and _, not starting with a digit", k)
		case strings.HasPrefix(k, ReservedEnvPrefix):
			c.Addf("options.env", "%q starts with %s, which the platform reserves", k, ReservedEnvPrefix)
		case strings.ContainsRune(v, 0) || !utf8.ValidString(v):
			c.Addf("options.env", "the value of %q must be UTF-8 without NUL", k)
		}
	}
	if len(env) > maxEnvVars || size > maxEnvBytes {
		c.Addf("options.env", "must be at most %d variables and %d bytes", maxEnvVars, maxEnvBytes)
	}
}

// withDefaults fills the options' zero values.
func withDefaults(o *options) *options {
	out := *o
	if out.Instances == 0 {
		out.Instances = 1
	}
	if out.Resources.CPUMillis == 0 {
		out.Resources.CPUMillis = DefaultCPUMillis
	}
	if out.Resources.MemoryMiB == 0 {
		out.Resources.MemoryMiB = DefaultMemoryMiB
	}
	return &out
}

// gitSource reports whether a service's source is a git URL rather than
// an uploaded source id.
func gitSource(src string) bool { return !platform.IsSourceID(src) }

// describe names a service in errors.
func describe(ref Ref) string {
	return fmt.Sprintf("service %q in namespace %q", ref.Name, ref.Namespace)
}
