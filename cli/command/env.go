package command

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"

	"m3o.dev/cli/internal/envfile"
)

// envView is how an env is shown.
type envView struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	CAFile    string `json:"ca_file,omitempty"`
	Builtin   bool   `json:"builtin"`
	Current   bool   `json:"current"`
	Account   string `json:"account,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// envCommand lists and changes the envs micro knows.
func (a *app) envCommand() *cli.Command {
	return &cli.Command{
		Name:  "env",
		Usage: "list the envs micro can talk to, marking the current one",
		Description: "An env is a platform micro talks to. 'local' is the one 'micro server' runs on this machine\n" +
			"and 'platform' is the hosted one. MICRO_ENV or --env picks another for one shell or one command.",
		Action: a.local(a.envList),
		Subcommands: []*cli.Command{
			{
				Name:      "set",
				Aliases:   []string{"use"}, // as docker context and kubectl config say
				Usage:     "make an env the current one",
				ArgsUsage: "NAME",
				Action:    a.local(a.envSet),
			},
			{
				Name:      "add",
				Usage:     "define an env by the address of its gRPC proxy",
				ArgsUsage: "NAME ADDRESS",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "ca-file", Usage: "PEM `FILE` of the CA that signed the proxy's certificate (default: the system roots)"},
				},
				Action: a.local(a.envAdd),
			},
			{
				Name:      "del",
				Aliases:   []string{"delete", "remove", "rm"}, // as git remote and docker context say
				Usage:     "delete an env and forget its login",
				ArgsUsage: "NAME",
				Action:    a.local(a.envDel),
			},
		},
	}
}

// envList prints every env.
func (a *app) envList(c *cli.Context) error {
	store, err := a.store()
	if err != nil {
		return err
	}
	f, err := store.Load()
	if err != nil {
		return err
	}
	current := c.String("env")
	if current == "" {
		current = f.CurrentName()
	}
	views := envViews(f, current)
	return a.out.print(map[string]any{"current": current, "envs": views}, func(t *tabwriter.Writer) {
		row(t, "", "NAME", "ADDRESS", "CA", "LOGGED IN AS")
		for _, v := range views {
			mark, as := "", "-"
			if v.Current {
				mark = "*"
			}
			if v.Account != "" {
				as = v.Account + " (" + v.Namespace + ")"
			}
			row(t, mark, v.Name, v.Address, orDash(v.CAFile), as)
		}
	})
}

// envViews describes every env of f, marking current.
func envViews(f *envfile.File, current string) []envView {
	var views []envView
	for _, env := range f.List() {
		v := envView{Name: env.Name, Address: env.Address, CAFile: env.CAFile, Builtin: env.Builtin, Current: env.Name == current}
		if s, ok := f.Session(env.Name); ok {
			v.Account, v.Namespace = s.Account, s.Namespace
		}
		views = append(views, v)
	}
	return views
}

// envSet makes an env current.
func (a *app) envSet(c *cli.Context) error {
	name := c.Args().First()
	store, err := a.store()
	if err != nil {
		return err
	}
	var env envfile.Env
	err = store.Update(func(f *envfile.File) error {
		if err := f.Use(name); err != nil {
			return err
		}
		env, err = f.Env(name)
		return err
	})
	if errors.Is(err, envfile.ErrUnknownEnv) {
		return noSuchEnv(name)
	}
	if err != nil {
		return err
	}
	if override := c.String("env"); override != "" && override != name && !a.out.json {
		a.notef("--env or MICRO_ENV still selects env '%s' where it is given.", override)
	}
	return a.out.print(map[string]string{"current": name, "address": env.Address}, func(t *tabwriter.Writer) {
		row(t, "Env '"+name+"' ("+env.Address+") is now current.")
	})
}

// envAdd defines a new env.
func (a *app) envAdd(c *cli.Context) error {
	env := envfile.Env{Name: c.Args().Get(0), Address: c.Args().Get(1)}
	if err := firstError(envfile.ValidateName(env.Name), envfile.ValidateAddress(env.Address)); err != nil {
		return usageErrorf("Cannot add env '%s': %s.", env.Name, invalidReason(err))
	}
	caFile, err := checkCAFile(c.String("ca-file"))
	if err != nil {
		return err
	}
	env.CAFile = caFile
	store, err := a.store()
	if err != nil {
		return err
	}
	err = store.Update(func(f *envfile.File) error { return f.Add(env) })
	if errors.Is(err, envfile.ErrEnvExists) {
		return failf(ExitError, codes.AlreadyExists, "Env '%s' already exists; delete it first with 'micro env del %s'.", env.Name, env.Name)
	}
	if err != nil {
		return err
	}
	return a.out.print(envView{Name: env.Name, Address: env.Address, CAFile: env.CAFile}, func(t *tabwriter.Writer) {
		row(t, "Added env '"+env.Name+"' ("+env.Address+"). Run 'micro env set "+env.Name+"' to use it.")
	})
}

// checkCAFile returns the absolute path of a CA file after checking that it
// holds a certificate; an empty path stays empty and means the system roots.
func checkCAFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", usageErrorf("Cannot use --ca-file %s: the path is not valid.", path)
	}
	pem, err := os.ReadFile(abs)
	if err != nil {
		return "", failf(ExitError, codes.InvalidArgument, "Cannot read --ca-file %s: %s.", abs, rootCause(err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return "", failf(ExitError, codes.InvalidArgument, "Cannot use --ca-file %s: it holds no PEM certificate.", abs)
	}
	return abs, nil
}

// envDel deletes an env.
func (a *app) envDel(c *cli.Context) error {
	name := c.Args().First()
	store, err := a.store()
	if err != nil {
		return err
	}
	err = store.Update(func(f *envfile.File) error { return f.Delete(name) })
	switch {
	case errors.Is(err, envfile.ErrUnknownEnv):
		return noSuchEnv(name)
	case errors.Is(err, envfile.ErrBuiltin):
		return failf(ExitError, codes.FailedPrecondition, "Env '%s' is built in and cannot be deleted.", name)
	case err != nil:
		return err
	}
	return a.out.print(map[string]string{"deleted": name}, func(t *tabwriter.Writer) {
		row(t, "Deleted env '"+name+"' and forgot its login.")
	})
}

// noSuchEnv is the error for an env name that names nothing.
func noSuchEnv(name string) *failure {
	return failf(ExitNotFound, codes.NotFound, "There is no env '%s'. Run 'micro env' to list envs.", name)
}

// invalidReason returns what is wrong in an envfile validation error.
func invalidReason(err error) string {
	var inv *envfile.InvalidError
	if errors.As(err, &inv) {
		return inv.Problem
	}
	return rootCause(err)
}

// firstError returns the first non-nil error.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
