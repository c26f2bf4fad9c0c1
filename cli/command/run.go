package command

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
)

// Exit codes, as the CLI documents them. Scripts branch on them, so they
// never change meaning.
const (
	// ExitOK means the command did what it was asked.
	ExitOK = 0
	// ExitError means it failed for any reason not listed below.
	ExitError = 1
	// ExitUsage means the command line was wrong: a missing or extra
	// argument, an unknown command or flag, a bad flag value.
	ExitUsage = 2
	// ExitUnauthenticated means not logged in, or the session expired or
	// was revoked, or the credentials were wrong.
	ExitUnauthenticated = 3
	// ExitPermissionDenied means the account may not do this, or its
	// namespace's subscription is not active.
	ExitPermissionDenied = 4
	// ExitNotFound means what the command named does not exist.
	ExitNotFound = 5
)

// Run runs micro with the given arguments, reading os.Stdin, and returns its
// exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	return RunWithInput(args, os.Stdin, stdout, stderr)
}

// RunWithInput runs micro with the given arguments and standard streams and
// returns its exit code. Errors go to stderr as one sentence, or to stdout
// as JSON when --output json is in effect.
func RunWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := newApp(stdin, stdout, stderr)
	app := a.cli()
	err := app.Run(interspersed(app, args))
	if err == nil {
		return ExitOK
	}
	f := a.failure(err)
	if !a.out.json && jsonRequested(args) {
		// The global flags failed to parse, so before never ran; honour a
		// visible request for JSON all the same.
		a.out.json = true
	}
	a.report(f)
	return f.exit
}

// failure describes err, including the exit errors urfave/cli and the
// server command make.
func (a *app) failure(err error) *failure {
	var f *failure
	var exit cli.ExitCoder
	if !errors.As(err, &f) && errors.As(err, &exit) {
		return &failure{exit: exit.ExitCode(), code: codes.Unknown, message: sentence(exit.Error())}
	}
	return describe(err, a.scope)
}

// report prints f: as JSON on stdout, or as its sentence on stderr.
func (a *app) report(f *failure) {
	if !a.out.json {
		fmt.Fprintln(a.stderr, f.message)
		return
	}
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason,omitempty"`
	}
	_ = a.out.encode(map[string]body{"error": {Code: f.code.String(), Message: f.message, Reason: f.reason}})
}

// jsonRequested reports whether args ask for JSON output with a flag.
func jsonRequested(args []string) bool {
	for i, arg := range args {
		switch arg {
		case "--output=json", "-output=json", "-o=json", "--o=json":
			return true
		case "--output", "-output", "-o", "--o":
			if i+1 < len(args) && args[i+1] == outputJSON {
				return true
			}
		}
	}
	return false
}
