package command

import (
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// servicesCommand lists the services registered in the namespace.
func (a *app) servicesCommand() *cli.Command {
	return &cli.Command{
		Name:   "services",
		Usage:  "list the services registered in your namespace, one row a node",
		Action: a.remote(a.services),
	}
}

// services lists registered services with their nodes: one row a node,
// or one row for a service without any.
func (a *app) services(c *cli.Context, conn *session.Conn) error {
	resp, err := registryv1.NewRegistryServiceClient(conn.Client()).ListServices(c.Context, &registryv1.ListServicesRequest{})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "NAME", "VERSION", "NODE", "ADDRESS")
		for _, s := range resp.GetServices() {
			if len(s.GetNodes()) == 0 {
				row(t, s.GetName(), versionOf(s.GetVersion()), "-", "-")
			}
			for _, n := range s.GetNodes() {
				row(t, s.GetName(), versionOf(s.GetVersion()), n.GetId(), orDash(n.GetAddress()))
			}
		}
	})
}
