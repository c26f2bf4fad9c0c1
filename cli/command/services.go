package command

import (
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
	registryv1 "m3o.dev/proto/m3o/registry/v1"
)

// servicesCommand lists the services registered in the namespace.
func (a *app) servicesCommand() *cli.Command {
	return &cli.Command{
		Name:   "services",
		Usage:  "list the services registered in your namespace",
		Action: a.remote(a.services),
	}
}

// services lists registered services with their versions and nodes.
func (a *app) services(c *cli.Context, conn *session.Conn) error {
	resp, err := registryv1.NewRegistryServiceClient(conn.Client()).ListServices(c.Context, &registryv1.ListServicesRequest{})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "NAME", "VERSION", "NODES", "ADDRESSES")
		for _, s := range resp.GetServices() {
			var addrs []string
			for _, n := range s.GetNodes() {
				addrs = append(addrs, n.GetAddress())
			}
			row(t, s.GetName(), orDash(s.GetVersion()), strconv.Itoa(len(s.GetNodes())), orDash(strings.Join(addrs, ", ")))
		}
	})
}
