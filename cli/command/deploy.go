package command

import (
	"context"
	"errors"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/deploy"
	"m3o.dev/cli/internal/session"
	"m3o.dev/cli/internal/skeleton"
	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// reasonDeployFailed is the JSON error reason of a deployment that did
// not take.
const reasonDeployFailed = "DEPLOYMENT_FAILED"

// run uploads or names the source, creates the service and waits for it.
func (a *app) run(c *cli.Context, conn *session.Conn) error {
	src, ns := c.Args().First(), a.withNamespace(c.String("namespace"))
	if err := checkSource(src); err != nil {
		return err
	}
	name, err := nameOf(c.String("name"), src)
	if err != nil {
		return err
	}
	opts, err := runOptions(c, nil)
	if err != nil {
		return err
	}
	rt := runtimeClient(conn)
	if _, err := rt.Read(c.Context, &runtimev1.ReadRequest{Name: name, Namespace: ns}); err == nil {
		return alreadyRuns(name, src)
	} else if status.Code(err) != codes.NotFound {
		return err
	}
	source, err := a.source(c.Context, rt, name, ns, src, opts)
	if err != nil {
		return err
	}
	resp, err := rt.Create(c.Context, &runtimev1.CreateRequest{
		Service: &runtimev1.Service{Name: name, Source: source}, Options: opts, Namespace: ns,
	})
	if status.Code(err) == codes.AlreadyExists {
		return alreadyRuns(name, src)
	}
	if err != nil {
		return refusedOption(err)
	}
	return a.await(c, conn, resp.GetService(), "run")
}

// alreadyRuns is the error of a run whose name is taken.
func alreadyRuns(name, src string) error {
	return failf(ExitError, codes.AlreadyExists, "A service named '%s' already exists. Run 'micro update %s %s' to replace it, or choose another --name.", name, name, src)
}

// update rebuilds a service from new or the same source, with new or the
// same options, and waits for it.
func (a *app) update(c *cli.Context, conn *session.Conn) error {
	name, src, err := updateTarget(c.Args())
	if err != nil {
		return err
	}
	if src != "" {
		if err := checkSource(src); err != nil {
			return err
		}
	}
	ns := a.withNamespace(c.String("namespace"))
	rt := runtimeClient(conn)
	cur, err := rt.Read(c.Context, &runtimev1.ReadRequest{Name: name, Namespace: ns})
	if err != nil {
		return err
	}
	var opts *runtimev1.Options
	if slices.ContainsFunc(optionFlagNames, c.IsSet) {
		if opts, err = runOptions(c, cur.GetServices()[0].GetOptions()); err != nil {
			return err
		}
	}
	source := ""
	if src == "" {
		source = a.ranSource(cur.GetServices()[0])
	} else if source, err = a.source(c.Context, rt, name, ns, src, opts); err != nil {
		return err
	}
	resp, err := rt.Update(c.Context, &runtimev1.UpdateRequest{
		Service: &runtimev1.Service{Name: name, Source: source}, Options: opts, Namespace: ns,
	})
	if err != nil {
		return refusedUpdate(err, name, source)
	}
	return a.await(c, conn, resp.GetService(), "update")
}

// refusedUpdate is err as the CLI says it: a kept source id the runtime
// does not know is not found, with where the kept ones are listed, and a
// refused option names its flag (see refusedOption).
func refusedUpdate(err error, name, source string) error {
	st, ok := sentStatus(err)
	if ok && st.Code() == codes.InvalidArgument && platform.IsSourceID(source) && strings.HasPrefix(st.Message(), "service.source: ") {
		return failf(ExitNotFound, codes.NotFound, "Service '%s' has no kept source %s: it was never uploaded for it, or is no longer kept. 'micro status %s' lists the sources kept.", name, source, name)
	}
	return refusedOption(err)
}

// ranSource is what an update without SOURCE builds from: the service's
// own source, a git URL fetched again, except that an upload whose
// generation did not take gives way to the kept source of the generation
// that still serves. Rebuilding a failed upload would fail again, and
// --instances or --env would never reach the version that runs. Empty
// keeps the service's source.
func (a *app) ranSource(svc *runtimev1.Service) string {
	var failed *deploy.Failure
	if _, err := deploy.Outcome(svc, svc.GetGeneration()); !errors.As(err, &failed) || !failed.OlderRuns() || isGitURL(svc.GetSource()) {
		return ""
	}
	for _, kept := range svc.GetSources() {
		if kept.GetRunning() && kept.GetId() != svc.GetSource() {
			a.notef("Generation %d of %s did not take; rebuilding from %s, which generation %d runs.",
				svc.GetGeneration(), svc.GetName(), kept.GetId(), svc.GetRunningGeneration())
			return kept.GetId()
		}
	}
	return ""
}

// optionFlags are the flags of run and update by the fields of the
// runtime's options that they fill.
var optionFlags = map[string]string{"options.instances": "--instances", "options.env": "--env"}

// refusedOption is err as a usage error that names the flag, when the
// runtime refused an option the flag gave, such as more instances than a
// service may have; any other error is returned as it is.
func refusedOption(err error) error {
	st, ok := sentStatus(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return err
	}
	for field, flag := range optionFlags {
		if why, ok := strings.CutPrefix(st.Message(), field+": "); ok {
			return usageErrorf("%s: %s", flag, sentence(why))
		}
	}
	return err
}

// updateTarget reads update's arguments, NAME [SOURCE]. A lone argument
// that cannot be a name but is a folder or a git URL, such as '.', is the
// source, and names the service as run does: 'micro run .' then
// 'micro update .' works on one service.
func updateTarget(args cli.Args) (name, src string, err error) {
	name, src = args.Get(0), args.Get(1)
	if args.Len() != 1 || skeleton.ValidName(name) || !(isGitURL(name) || isDir(name)) {
		return name, src, nil
	}
	src = name
	if name = baseName(src); !skeleton.ValidName(name) {
		return "", "", usageErrorf("%q (the source's name) is not a service name: run 'micro update NAME %s' with the service's name.", name, src)
	}
	return name, src, nil
}

// isDir reports whether path names a folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// nameOf returns the service's name: --name, else the folder's or the
// repository's, which must be a valid name.
func nameOf(flag, src string) (string, error) {
	name, from := flag, "--name"
	if name == "" {
		name, from = baseName(src), "the source's name"
	}
	if !skeleton.ValidName(name) {
		var hint string
		if from != "--name" {
			hint = "; pass --name"
			if s := skeleton.SuggestName(name); s != "" {
				hint += " " + s
			}
		}
		return "", usageErrorf("%q (%s) is not a service name: use lower-case letters, digits and dashes, starting with a letter%s.", name, from, hint)
	}
	return name, nil
}

// baseName is the last element of a folder's absolute path, or of a git
// URL's path without its @ref and .git.
func baseName(src string) string {
	if isGitURL(src) {
		slash := strings.LastIndex(src, "/")
		base, _, _ := strings.Cut(src[slash+1:], "@")
		return strings.TrimSuffix(base, ".git")
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return src
	}
	return filepath.Base(abs)
}

// namesStored reports whether SOURCE names what the platform fetches or
// keeps, a git URL or a kept source's id, rather than a folder to upload;
// a folder that happens to be called src-… is a folder.
func namesStored(src string) bool {
	return isGitURL(src) || (platform.IsSourceID(src) && !isDir(src))
}

// isGitURL reports whether a source is a URL rather than a folder.
func isGitURL(src string) bool {
	return strings.Contains(src, "://")
}

// optionFlagNames are the flags of run and update that change the options
// a service runs with; update without them keeps the options as they are.
var optionFlagNames = []string{"instances", "env", "env-file", "unset-env"}

// runOptions returns the options the flags ask for, on top of cur: the
// variables of --env-file, then of --env, then --unset-env's removed.
func runOptions(c *cli.Context, cur *runtimev1.Options) (*runtimev1.Options, error) {
	opts := &runtimev1.Options{Env: map[string]string{}, Instances: cur.GetInstances(), Resources: cur.GetResources()}
	maps.Copy(opts.Env, cur.GetEnv())
	if path := c.String("env-file"); path != "" {
		file, err := readEnvFile(path)
		if err != nil {
			return nil, err
		}
		maps.Copy(opts.Env, file)
	}
	for _, kv := range c.StringSlice("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErrorf("--env %q must be KEY=VALUE.", kv)
		}
		opts.Env[k] = v
	}
	for _, k := range c.StringSlice("unset-env") {
		if _, ok := opts.Env[k]; !ok {
			return nil, usageErrorf("--unset-env %s: the service has no variable %s.", k, k)
		}
		delete(opts.Env, k)
	}
	if c.IsSet("instances") {
		opts.Instances = uint32(c.Uint("instances"))
	}
	return opts, nil
}

// source returns what a service's source field names: a git URL or a kept
// source's id (as 'micro status NAME' lists them) as it is, or the id of
// the folder's upload, src having passed checkSource. The upload carries
// the options the service is to run with, so that the runtime refuses them
// before it.
func (a *app) source(ctx context.Context, rt runtimev1.RuntimeServiceClient, name, ns, src string, opts *runtimev1.Options) (string, error) {
	if namesStored(src) {
		return src, nil
	}
	archive, err := deploy.Pack(src)
	if err != nil {
		return "", failf(ExitError, codes.InvalidArgument, "Cannot pack %s: %s", src, sentence(rootCause(err)))
	}
	a.progressf("Uploading %s (%s packed)...", src, size(len(archive)))
	resp, err := deploy.Upload(ctx, rt, name, ns, opts, archive)
	if err != nil {
		return "", refusedOption(err)
	}
	return resp.GetSourceId(), nil
}

// checkSource refuses a SOURCE the platform cannot build from, before
// anything is asked of it: a git URL over SSH, a path that is no folder,
// and a folder without the go.mod of the module to build.
func checkSource(src string) error {
	switch {
	case strings.HasPrefix(src, "git@") || strings.HasPrefix(src, "ssh://"):
		return usageErrorf("%s is a git URL over SSH; the platform fetches git over HTTPS: https://host/path@ref.", src)
	case namesStored(src):
		return nil
	case !isDir(src):
		return usageErrorf("%s is not a folder, a git URL (https://host/path@ref) or a kept source's id (src-…, as 'micro status NAME' lists them).", src)
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return usageErrorf("%s has no go.mod: the platform builds the Go module at the folder's root; 'micro new NAME' writes one to start from.", src)
	}
	return nil
}

// await follows the generation svc was given until it runs or fails, and
// prints the outcome.
func (a *app) await(c *cli.Context, conn *session.Conn, svc *runtimev1.Service, verb string) error {
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	w := deploy.Watch{
		Client: runtimeClient(conn), Name: svc.GetName(), Namespace: c.String("namespace"), Generation: svc.GetGeneration(),
		Interval: pollInterval, OnStatus: a.showStatus,
	}
	if c.Bool("verbose") {
		w.OnBuildLine = func(l string) { a.notef("[build] %s", l) }
	}
	final, err := w.Wait(ctx)
	var failed *deploy.Failure
	switch {
	case errors.As(err, &failed):
		return deployFailed(failed, verb)
	case ctx.Err() != nil && c.Context.Err() == nil:
		return stoppedWaiting(final, c.Duration("timeout"), ctx.Err())
	case err != nil:
		return err
	}
	ns := c.String("namespace")
	return a.printDeployed(final, ns, methodsOf(c.Context, conn, final.GetName(), ns))
}

// methodsOf returns the names of the methods a service registered. It is
// a hint for the user: when the registry cannot say, there is none, and
// the service runs all the same.
func methodsOf(ctx context.Context, conn *session.Conn, name, ns string) []string {
	methods, err := registeredMethods(ctx, conn, name, ns)
	if err != nil {
		return nil
	}
	names := make([]string, len(methods))
	for i, m := range methods {
		names[i] = m.Name
	}
	return names
}
