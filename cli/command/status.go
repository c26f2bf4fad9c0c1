package command

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/deploy"
	"m3o.dev/cli/internal/session"
	"m3o.dev/pkg/platform"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// statusOutput is `micro status` in `--output json`.
type statusOutput struct {
	Services []serviceJSON `json:"services"`
}

// status prints the namespace's services as a table, or one in full.
func (a *app) status(c *cli.Context, conn *session.Conn) error {
	name := c.Args().First()
	resp, err := runtimeClient(conn).Read(c.Context, &runtimev1.ReadRequest{
		Name: name, Namespace: a.withNamespace(c.String("namespace")),
	})
	if err != nil {
		return err
	}
	out := statusOutput{Services: make([]serviceJSON, 0, len(resp.GetServices()))}
	for _, svc := range resp.GetServices() {
		out.Services = append(out.Services, serviceOutput(svc))
	}
	if len(out.Services) == 0 && !a.out.json {
		a.notef("No services in namespace '%s'. 'micro run FOLDER' runs one; 'micro new NAME' writes one to start from.", a.scope.namespace)
		return nil
	}
	if name != "" && len(out.Services) == 1 {
		return a.out.print(out, func(t *tabwriter.Writer) { serviceDetail(t, resp.GetServices()[0], out.Services[0]) })
	}
	return a.out.print(out, func(t *tabwriter.Writer) {
		row(t, "NAME", "VERSION", "SOURCE", "STATUS", "INSTANCES", "UPDATED", "ERROR")
		for i, s := range out.Services {
			serviceRow(t, s, when(resp.GetServices()[i].GetUpdated()))
		}
	})
}

// serviceDetail writes one service as `micro status NAME` shows it: a
// field a line, the whole error, and a row for each instance, with its
// restarts and how it last exited, which say why a service keeps crashing.
func serviceDetail(t *tabwriter.Writer, svc *runtimev1.Service, s serviceJSON) {
	row(t, "NAME", s.Name)
	row(t, "NAMESPACE", svc.GetNamespace())
	row(t, "STATUS", s.Status)
	row(t, "VERSION", s.Version)
	row(t, "SOURCE", orDash(s.Source))
	row(t, "GENERATION", generationLine(s))
	row(t, "INSTANCES", instancesLine(s, svc.GetOptions().GetResources()))
	envRows(t, s.Env)
	row(t, "CREATED", when(svc.GetCreated()))
	row(t, "UPDATED", when(svc.GetUpdated()))
	label := "ERROR"
	for _, line := range errorLines(s.Error) {
		row(t, label, line)
		label = ""
	}
	if len(svc.GetInstances()) > 0 {
		fmt.Fprintln(t)
		row(t, "INSTANCE", "GENERATION", "STATUS", "RESTARTS", "SINCE", "LAST EXIT")
		for _, inst := range svc.GetInstances() {
			row(t, fmt.Sprint(inst.GetNumber()), fmt.Sprint(inst.GetGeneration()), deploy.StatusName(inst.GetStatus()),
				fmt.Sprint(inst.GetRestarts()), when(inst.GetSince()), orDash(inst.GetLastExit()))
		}
	}
	keptSources(t, svc)
}

// envRows writes the service's environment, a variable a line in the
// order of their names, or a dash. A value with a line break or a tab is
// quoted, so that it stays on its line.
func envRows(t *tabwriter.Writer, env map[string]string) {
	if len(env) == 0 {
		row(t, "ENV", "-")
		return
	}
	label := "ENV"
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if strings.ContainsAny(v, "\n\r\t") {
			v = strconv.Quote(v)
		}
		row(t, label, k+"="+v)
		label = ""
	}
}

// keptSources lists the sources the platform keeps of the service, the one
// that runs marked, and how to run an older one again.
func keptSources(t *tabwriter.Writer, svc *runtimev1.Service) {
	if len(svc.GetSources()) == 0 {
		return
	}
	fmt.Fprintln(t)
	row(t, "SOURCE", "STORED", "SIZE", "RUNNING")
	for _, src := range svc.GetSources() {
		running := "-"
		if src.GetRunning() {
			running = "yes"
		}
		row(t, src.GetId(), when(src.GetUploaded()), size(int(src.GetSizeBytes())), running)
	}
	if len(svc.GetSources()) > 1 {
		fmt.Fprintf(t, "\n'micro update %s SOURCE' runs a kept source again.\n", svc.GetName())
	}
}

// errorLines is a service's whole error a line at a time: a generation
// that did not take says so on the first, and the reason, such as the
// compiler's lines, follows from the next.
func errorLines(full string) []string {
	full = strings.TrimSpace(full)
	if _, why, ok := platform.SplitNotTaken(full); ok && strings.Contains(why, "\n") {
		preface := strings.TrimSpace(strings.TrimSuffix(full, why))
		return append([]string{preface}, strings.Split(why, "\n")...)
	}
	return strings.Split(orDash(full), "\n")
}

// instancesLine counts the instances that run and says what each may use.
func instancesLine(s serviceJSON, res *runtimev1.Resources) string {
	line := fmt.Sprintf("%d/%d running", s.Instances.Running, s.Instances.Desired)
	if res.GetCpuMillis() > 0 || res.GetMemoryMib() > 0 {
		line += fmt.Sprintf(", each with %s CPU and %s memory", formatCPU(res.GetCpuMillis()), formatMemory(res.GetMemoryMib()))
	}
	return line
}

// generationLine is the latest generation, and the one that serves when
// it is older.
func generationLine(s serviceJSON) string {
	if s.RunningGeneration == 0 || s.RunningGeneration == s.Generation {
		return fmt.Sprint(s.Generation)
	}
	return fmt.Sprintf("%d (generation %d serves)", s.Generation, s.RunningGeneration)
}

// kill deletes a service, which returns once its instances have stopped.
func (a *app) kill(c *cli.Context, conn *session.Conn) error {
	name := c.Args().First()
	ctx, cancel := context.WithTimeout(c.Context, killTimeout)
	defer cancel()
	_, err := runtimeClient(conn).Delete(ctx, &runtimev1.DeleteRequest{Name: name, Namespace: a.withNamespace(c.String("namespace"))})
	if err != nil {
		return err
	}
	return a.out.print(map[string]any{"name": name, "killed": true}, func(t *tabwriter.Writer) {
		fmt.Fprintf(t, "Killed %s: its instances have stopped.\n", name)
	})
}
