package command

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// statusOutput is `micro status` in `--output json`.
type statusOutput struct {
	Services []serviceJSON `json:"services"`
}

// status prints the namespace's services, or one.
func (a *app) status(c *cli.Context, conn *session.Conn) error {
	resp, err := runtimeClient(conn).Read(c.Context, &runtimev1.ReadRequest{
		Name: c.Args().First(), Namespace: a.withNamespace(c.String("namespace")),
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
	return a.out.print(out, func(t *tabwriter.Writer) {
		row(t, "NAME", "VERSION", "SOURCE", "STATUS", "INSTANCES", "UPDATED", "ERROR")
		for i, s := range out.Services {
			serviceRow(t, s, when(resp.GetServices()[i].GetUpdated()))
		}
	})
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
