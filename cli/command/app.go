// Package command builds the micro command line: every subcommand, its
// flags, and how results and errors are printed.
//
// Each run of micro builds a fresh app, so that nothing survives from one
// run to the next but the config file (~/.micro/config.json).
package command

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"

	"m3o.dev/cli/internal/envfile"
	"m3o.dev/cli/internal/session"
)

// Version is the release of this binary, set at build time with
// -ldflags "-X m3o.dev/cli/command.Version=v1.2.3".
var Version = "dev"

// PlatformAddress is the gRPC address of the hosted platform, the built-in
// env 'platform'. Builds for another deployment set it with
// -ldflags "-X m3o.dev/cli/command.PlatformAddress=host:port".
var PlatformAddress = "api.m3o.dev:443"

// app is what every command of one run of micro shares.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	out    printer
	// scope is what an error names; commands fill it in as they learn it.
	scope scope
}

// newApp returns an app reading stdin and writing stdout and stderr.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, out: printer{w: stdout}}
}

// cli returns the command tree.
func (a *app) cli() *cli.App {
	app := &cli.App{
		Name:                 "micro",
		Usage:                "build, run and manage Go microservices on M3O",
		Version:              Version,
		Reader:               a.stdin,
		Writer:               a.stdout,
		ErrWriter:            a.stderr,
		EnableBashCompletion: true,
		HideVersion:          true,
		Flags:                globalFlags(),
		Before:               a.before,
		Action:               a.root,
		// Run reports every error itself; urfave/cli's default handler
		// would print it and exit the process.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			a.envCommand(),
			a.loginCommand(),
			a.logoutCommand(),
			a.whoamiCommand(),
			a.signupCommand(),
			a.serverCommand(),
			a.servicesCommand(),
			a.newCommand(),
			a.runCommand(),
			a.statusCommand(),
			a.logsCommand(),
			a.updateCommand(),
			a.killCommand(),
			a.callCommand(),
			a.storeCommand(),
			a.configCommand(),
			a.benchCommand(),
			a.authCommand(),
			a.billingCommand(),
			a.adminCommand(),
			a.completionCommand(),
			a.versionCommand(),
		},
	}
	app.OnUsageError = a.usageError
	for _, c := range app.Commands {
		a.setUsageErrors(c)
	}
	return app
}

// globalFlags are the flags every command understands.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    "env",
			Usage:   "`NAME` of the env to use instead of the current one",
			EnvVars: []string{"MICRO_ENV"},
		},
		&cli.StringFlag{
			Name:    "output",
			Aliases: []string{"o"},
			Usage:   "output `FORMAT`: table or json",
			Value:   outputTable,
			EnvVars: []string{"MICRO_OUTPUT"},
		},
	}
}

// before checks the global flags before any command runs.
func (a *app) before(c *cli.Context) error {
	switch format := c.String("output"); format {
	case outputTable, "":
	case outputJSON:
		a.out.json = true
	default:
		return usageErrorf("--output must be 'table' or 'json', not %q.", format)
	}
	return nil
}

// setUsageErrors makes every command report flag errors through Run, which
// prints them as the output format asks, instead of printing help.
func (a *app) setUsageErrors(c *cli.Command) {
	c.OnUsageError = a.usageError
	for _, sub := range c.Subcommands {
		a.setUsageErrors(sub)
	}
}

// usageError turns a flag parsing error into a usage failure.
func (a *app) usageError(c *cli.Context, err error, _ bool) error {
	name := c.App.Name
	if c.Command != nil && c.Command.HelpName != "" {
		name = c.Command.HelpName
	}
	sentence := flagSentence(c, err)
	if near := nearestFlag(c, err); near != "" {
		return usageErrorf("%s. Did you mean %s?", sentence, near)
	}
	return usageErrorf("%s; see '%s --help'.", sentence, name)
}

// root is the action of micro without a command: it shows help, or refuses
// a command that does not exist.
func (a *app) root(c *cli.Context) error {
	if c.Args().Present() {
		return unknownCommand(c)
	}
	return cli.ShowAppHelp(c)
}

// group is the action of a command that only holds subcommands: it shows
// its help, or refuses a subcommand that does not exist.
func (a *app) group(c *cli.Context) error {
	if c.Args().Present() {
		return unknownCommand(c)
	}
	return cli.ShowSubcommandHelp(c)
}

// unknownCommand is the error for a subcommand that does not exist. A
// typo of one that does, such as stauts, gets it suggested, and so does
// the command another tool's word means, such as deploy for run.
func unknownCommand(c *cli.Context) error {
	parent, typed := commandName(c), c.Args().First()
	meant := synonymCommand(c, typed)
	if meant == "" {
		meant = nearestCommand(c, typed)
	}
	if meant != "" {
		return usageErrorf("'%s %s' is not a micro command. Did you mean '%s %s'?", parent, typed, parent, meant)
	}
	if meant := swappedCommands(c, typed, c.Args().Get(1)); len(meant) > 0 {
		return usageErrorf("'%s %s' is not a micro command. Did you mean %s?", parent, typed, strings.Join(meant, " or "))
	}
	return usageErrorf("'%s %s' is not a micro command; see '%s --help'.", parent, typed, parent)
}

// commandName returns the full name of the running command, such as
// "micro store read".
func commandName(c *cli.Context) string {
	if c.Command == nil || c.Command.HelpName == "" {
		return c.App.Name
	}
	return c.Command.HelpName
}

// store returns the config file store of the user running micro.
func (a *app) store() (*envfile.Store, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, failf(ExitError, codes.FailedPrecondition, "Cannot find your home directory: set HOME.")
	}
	s := envfile.NewStore(home, envfile.Builtins(home, PlatformAddress))
	a.scope.configPath = s.Path()
	return s, nil
}

// env loads the config file and returns it with the env this command uses:
// --env, else MICRO_ENV, else the current env of the file.
func (a *app) env(c *cli.Context) (*envfile.Store, *envfile.File, envfile.Env, error) {
	store, err := a.store()
	if err != nil {
		return nil, nil, envfile.Env{}, err
	}
	f, err := store.Load()
	if err != nil {
		return nil, nil, envfile.Env{}, err
	}
	name := globalEnv(c)
	if name == "" {
		name = f.CurrentName()
	}
	a.scope.env = envfile.Env{Name: name}
	env, err := f.Env(name)
	if err != nil {
		return nil, nil, envfile.Env{}, err
	}
	a.scope.env = env
	if s, ok := f.Session(name); ok {
		a.scope.namespace, a.scope.account = s.Namespace, s
	}
	return store, f, env, nil
}

// globalEnv returns the global --env, which the --env KEY=VALUE of run and
// update would shadow: the nearest context's whose command declares no
// such flag of its own.
func globalEnv(c *cli.Context) string {
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil {
			if _, own := lookupFlag(ctx.Command.Flags, "env").(*cli.StringSliceFlag); own {
				continue
			}
		}
		return ctx.String("env")
	}
	return ""
}

// remote wraps the action of a command that talks to the platform: it
// checks the arguments, connects to the env, and closes the connection.
func (a *app) remote(run func(c *cli.Context, conn *session.Conn) error) cli.ActionFunc {
	return a.local(func(c *cli.Context) error {
		store, _, env, err := a.env(c)
		if err != nil {
			return err
		}
		conn, err := session.Dial(env, store)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.OnWarning(func(w string) { a.notef("Warning: %s", w) })
		return run(c, conn)
	})
}

// local wraps the action of a command that works on this machine only: it
// checks the arguments against the command's ArgsUsage first.
func (a *app) local(run cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := checkArgs(c); err != nil {
			return err
		}
		return run(c)
	}
}

// namespaceFlag is the --namespace flag of commands an admin of "micro" may
// point at another namespace.
func namespaceFlag(usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: "namespace", Usage: usage}
}

// withNamespace records the namespace a command acts in, when it names one,
// so that errors name it too.
func (a *app) withNamespace(ns string) string {
	if ns != "" {
		a.scope.namespace = ns
	}
	return ns
}

// noneNotef notes on stderr, for people, that a list of n came back empty;
// the table still prints its header, which scripts may read. Deferred, it
// comes after the table.
func (a *app) noneNotef(n int, format string, args ...any) {
	if n == 0 && !a.out.json {
		a.notef(format, args...)
	}
}

// notef prints a note for people on stderr, where it cannot spoil output
// that a program reads.
func (a *app) notef(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}
