package command

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"m3o.dev/cli/internal/deploy"
	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// serviceJSON is a service in `--output json`.
type serviceJSON struct {
	Name      string        `json:"name"`
	Version   string        `json:"version"`
	Source    string        `json:"source"`
	Status    string        `json:"status"`
	Instances instancesJSON `json:"instances"`
	Error     string        `json:"error"`
	Updated   *time.Time    `json:"updated"`
	// Generation is the latest the service was given; RunningGeneration
	// the one that serves, older while a newer one builds or did not take.
	Generation        uint64         `json:"generation"`
	RunningGeneration uint64         `json:"running_generation"`
	InstanceDetails   []instanceJSON `json:"instance_details"`
	// Env is the environment every instance is given, as run and update
	// set it.
	Env map[string]string `json:"env"`
	// Sources are the kept sources, newest first, when one service was
	// read by name.
	Sources []sourceJSON `json:"sources,omitempty"`
}

// sourceJSON is a source the platform keeps of a service.
type sourceJSON struct {
	ID        string     `json:"id"`
	Stored    *time.Time `json:"stored"`
	SizeBytes uint64     `json:"size_bytes"`
	SHA256    string     `json:"sha256"`
	Running   bool       `json:"running"`
}

// instanceJSON is one instance of a service, as `micro status NAME` shows
// it.
type instanceJSON struct {
	Number     uint32     `json:"number"`
	Generation uint64     `json:"generation"`
	Status     string     `json:"status"`
	Restarts   uint32     `json:"restarts"`
	LastExit   string     `json:"last_exit"`
	Since      *time.Time `json:"since"`
}

// instancesJSON counts a service's instances.
type instancesJSON struct {
	Running int `json:"running"`
	Desired int `json:"desired"`
}

// serviceOutput returns a service as JSON output shows it.
func serviceOutput(svc *runtimev1.Service) serviceJSON {
	running, desired := deploy.Instances(svc)
	out := serviceJSON{
		Name: svc.GetName(), Version: versionOf(svc.GetVersion()), Source: svc.GetSource(),
		Status: deploy.StatusName(svc.GetStatus()), Instances: instancesJSON{running, desired}, Error: svc.GetError(),
		Updated: timeOf(svc.GetUpdated()), Generation: svc.GetGeneration(), RunningGeneration: svc.GetRunningGeneration(),
		InstanceDetails: make([]instanceJSON, 0, len(svc.GetInstances())),
		Env:             map[string]string{},
	}
	maps.Copy(out.Env, svc.GetOptions().GetEnv())
	for _, inst := range svc.GetInstances() {
		out.InstanceDetails = append(out.InstanceDetails, instanceJSON{
			Number: inst.GetNumber(), Generation: inst.GetGeneration(), Status: deploy.StatusName(inst.GetStatus()),
			Restarts: inst.GetRestarts(), LastExit: inst.GetLastExit(), Since: timeOf(inst.GetSince()),
		})
	}
	for _, src := range svc.GetSources() {
		out.Sources = append(out.Sources, sourceJSON{
			ID: src.GetId(), Stored: timeOf(src.GetUploaded()), SizeBytes: src.GetSizeBytes(), SHA256: src.GetSha256(), Running: src.GetRunning(),
		})
	}
	return out
}

// lastExit returns the first instance of svc that exited, and how.
func lastExit(svc *runtimev1.Service) (number uint32, exit string, ok bool) {
	for _, inst := range svc.GetInstances() {
		if inst.GetLastExit() != "" {
			return inst.GetNumber(), inst.GetLastExit(), true
		}
	}
	return 0, "", false
}

// timeOf is ts as a time for JSON output, nil when unset.
func timeOf(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	at := ts.AsTime()
	return &at
}

// versionOf shows a version label, which is "latest" when empty.
func versionOf(v string) string {
	if v == "" {
		return "latest"
	}
	return v
}

// errorWidth is how much of a service's error a table row shows.
const errorWidth = 60

// serviceRow writes a service as a row of the status table.
func serviceRow(t *tabwriter.Writer, s serviceJSON, updated string) {
	why, more := errorSummary(s.Error)
	if more || len(why) > errorWidth {
		why = preview([]byte(why))
		if !strings.HasSuffix(why, "…") {
			why += " …"
		}
	}
	row(t, s.Name, s.Version, orDash(s.Source), s.Status, fmt.Sprintf("%d/%d", s.Instances.Running, s.Instances.Desired), updated, orDash(why))
}

// errorSummary is the line of a service's error that a table row shows:
// the first that says what went wrong, past headers such as the "# package"
// line the Go compiler prints before its errors; more reports whether
// other lines follow it.
func errorSummary(full string) (line string, more bool) {
	if gen, why, ok := platform.SplitNotTaken(full); ok {
		line, more := errorSummary(why)
		return fmt.Sprintf("generation %d: %s", gen, line), more
	}
	lines := strings.Split(strings.TrimSpace(full), "\n")
	i := 0
	for i < len(lines)-1 && (strings.HasPrefix(lines[i], "# ") || strings.HasSuffix(lines[i], ":")) {
		i++
	}
	return lines[i], len(lines) > i+1
}

// printDeployed prints a service that runs the generation run or update
// asked for, and how to call the methods it registered. ns is the
// namespace an admin named with --namespace, or "" for the caller's own.
func (a *app) printDeployed(svc *runtimev1.Service, ns string, methods []string) error {
	out := serviceOutput(svc)
	return a.out.print(map[string]serviceJSON{"service": out}, func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "%s is running (%d/%d instances). %s\n",
			out.Name, out.Instances.Running, out.Instances.Desired, callHint(out.Name, ns, methods))
	})
}

// callHint says how to call a service: with its one method, with one of
// its methods, or, when the registry did not say, with any. micro call
// reaches only the caller's own namespace, so a service an admin runs in
// another (ns) is called by that namespace's accounts.
func callHint(name, ns string, methods []string) string {
	who := "Call it"
	if ns != "" {
		who = fmt.Sprintf("Accounts of namespace '%s' call it", ns)
	}
	switch len(methods) {
	case 0:
		return fmt.Sprintf("%s with 'micro call %s SERVICE.METHOD JSON'.", who, name)
	case 1:
		return fmt.Sprintf("%s with 'micro call %s %s JSON'.", who, name, methods[0])
	}
	return fmt.Sprintf("%s with 'micro call %s METHOD JSON': %s.", who, name, strings.Join(methods, ", "))
}

// deployFailed is the error of a generation that did not take: the
// runtime's reason, and whether the older generation still serves.
func deployFailed(f *deploy.Failure, verb string) error {
	svc, why := f.Service, strings.TrimSpace(f.Service.GetError())
	if why == "" {
		why = "it is " + deploy.StatusName(svc.GetStatus())
	}
	msg := fmt.Sprintf("'micro %s %s' failed: %s", verb, svc.GetName(), indentReason(why))
	if f.OlderRuns() {
		if _, own, ok := platform.SplitNotTaken(why); ok {
			why = own // the sentence below says what the runtime's preface does
		}
		msg = fmt.Sprintf("'micro %s %s' failed, and generation %d keeps serving: %s",
			verb, svc.GetName(), svc.GetRunningGeneration(), indentReason(why))
	}
	if _, _, crashed := lastExit(svc); crashed {
		msg += fmt.Sprintf("\n'micro logs %s' prints what its instances wrote; 'micro status %s' shows each one's restarts.", svc.GetName(), svc.GetName())
	}
	if !f.OlderRuns() {
		msg += fmt.Sprintf("\nThe service stays, in error: 'micro update %s FOLDER' builds it again once fixed; 'micro kill %s' removes it.", svc.GetName(), svc.GetName())
	}
	return &failure{exit: ExitError, code: codes.Aborted, reason: reasonDeployFailed, message: msg}
}

// indentReason ends a reason as a sentence; a reason of several lines, such
// as a compiler's, goes below, indented.
func indentReason(why string) string {
	if !strings.Contains(why, "\n") {
		return sentence(why)
	}
	return "\n    " + strings.ReplaceAll(why, "\n", "\n    ")
}

// stoppedWaiting is the error of a run or update that stopped waiting
// before the service ran: the deployment goes on.
func stoppedWaiting(svc *runtimev1.Service, after time.Duration, cause error) error {
	name, where := "the service", "not known yet"
	if svc != nil {
		name, where = svc.GetName(), "still "+deploy.StatusName(svc.GetStatus())
	}
	return failf(ExitError, codes.DeadlineExceeded, "Stopped waiting after %s (%v); %s is %s and keeps deploying: follow it with 'micro status'.",
		after, cause, name, where)
}

// showStatus tells people on a terminal where a deployment stands.
func (a *app) showStatus(svc *runtimev1.Service) {
	switch svc.GetStatus() {
	case runtimev1.Status_STATUS_PENDING:
		a.progressf("Waiting to build %s...", svc.GetName())
	case runtimev1.Status_STATUS_BUILDING:
		a.progressf("Building %s...", svc.GetName())
	case runtimev1.Status_STATUS_STARTING:
		a.progressf("Starting %s...", svc.GetName())
	}
}

// progressf prints progress on stderr when it is a terminal.
func (a *app) progressf(format string, args ...any) {
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		a.notef(format, args...)
	}
}

// size renders a byte count for people.
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
