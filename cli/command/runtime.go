package command

import (
	"time"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/deploy"
	"m3o.dev/cli/internal/session"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// Timing of the commands that wait for the runtime.
var (
	// pollInterval is how often run and update read the service while they
	// wait; tests shorten it.
	pollInterval = deploy.DefaultInterval
	// defaultWait bounds run and update: a first build in a fresh
	// namespace compiles gRPC and the SDK, which takes minutes.
	defaultWait = 20 * time.Minute
	// killTimeout bounds kill, which returns once every instance has
	// drained and stopped.
	killTimeout = 2 * time.Minute
)

// runtimeClient returns the runtime client of conn.
func runtimeClient(conn *session.Conn) runtimev1.RuntimeServiceClient {
	return runtimev1.NewRuntimeServiceClient(conn.Client())
}

// runtimeNamespaceFlag lets an admin of micro act on another namespace's
// services.
func runtimeNamespaceFlag() cli.Flag {
	return namespaceFlag("act on the services of `NAMESPACE` (admins of micro only)")
}

// deployFlags are the flags of run and update that set how a service runs
// and how the command waits for it.
func deployFlags() []cli.Flag {
	return []cli.Flag{
		&cli.UintFlag{Name: "instances", DefaultText: "1, or for update the number running", Usage: "run `N` instances"},
		&cli.StringSliceFlag{Name: "env", Usage: "set the environment variable `KEY=VALUE` in every instance; repeat for more (secrets belong in 'micro config set --secret')"},
		&cli.StringFlag{Name: "env-file", Usage: "set the environment variables `FILE` holds, KEY=VALUE lines as in a .env file; --env wins"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the build log as it is written"},
		&cli.DurationFlag{Name: "timeout", Value: defaultWait, Usage: "stop waiting after `DURATION`; the service keeps deploying"},
		runtimeNamespaceFlag(),
	}
}

// runCommand is `micro run`.
func (a *app) runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "upload, build and start a service from a folder or a git URL; returns once it runs or has failed",
		Description: "SOURCE is a folder, such as '.', or a git URL, https://host/path optionally followed by\n" +
			"@branch, @tag or @commit. A folder is uploaded without .git and what its .gitignore lists.\n" +
			"The service is named after the folder or the repository unless --name says otherwise.",
		ArgsUsage: "SOURCE",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "`NAME` of the service (default: the folder's or repository's)"},
		}, deployFlags()...),
		Action: a.remote(a.run),
	}
}

// updateCommand is `micro update`.
func (a *app) updateCommand() *cli.Command {
	return &cli.Command{
		Name:  "update",
		Usage: "rebuild a service from new or the same source and replace it without downtime",
		Description: "Without SOURCE the service is rebuilt from the source it last ran from; a git URL is\n" +
			"fetched again. A lone SOURCE, such as '.', names the service as 'micro run' does. The\n" +
			"running version serves until the new one runs, and keeps serving if the new one fails.\n" +
			"SOURCE may also be the id of a source the platform keeps (src-…, as 'micro status NAME'\n" +
			"lists them), to run an earlier version again. --instances, --env, --env-file and\n" +
			"--unset-env change what they name and keep the rest.",
		ArgsUsage: "NAME [SOURCE]",
		Flags: append(deployFlags(),
			&cli.StringSliceFlag{Name: "unset-env", Usage: "remove the environment variable `KEY`; repeat for more"}),
		Action: a.remote(a.update),
	}
}

// killCommand is `micro kill`.
func (a *app) killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "stop a service and remove it; returns once its instances have stopped",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{runtimeNamespaceFlag()},
		Action:    a.remote(a.kill),
	}
}

// statusCommand is `micro status`.
func (a *app) statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show where your services stand, or one in full with each instance's restarts and last exit",
		ArgsUsage: "[NAME]",
		Flags:     []cli.Flag{runtimeNamespaceFlag()},
		Action:    a.remote(a.status),
	}
}

// logsCommand is `micro logs`.
func (a *app) logsCommand() *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "print a service's latest log lines, each after its instance's number, and with -f follow them",
		Description: "Lines of every instance are merged, each as '[N] text'; --build prints the latest\n" +
			"build's log instead, each line as '[build] text'. With -f new lines follow, also of\n" +
			"instances that restart or start later, until Ctrl-C or until the service is killed.",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines"},
			&cli.UintFlag{Name: "lines", Aliases: []string{"n"}, Value: 100, Usage: "print the last `N` lines first, at most 10000"},
			&cli.DurationFlag{Name: "since", Usage: "print only lines of the last `DURATION`, such as 10m"},
			&cli.BoolFlag{Name: "build", Usage: "print the latest build's log"},
			runtimeNamespaceFlag(),
		},
		Action: a.remote(a.logs),
	}
}
