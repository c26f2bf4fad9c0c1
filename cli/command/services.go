package command

import (
	"context"
	"slices"
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
	defer a.noneNotef(len(resp.GetServices()), "No services registered in namespace '%s'. 'micro run FOLDER' runs one.", a.scope.namespace)
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

// methodJSON is a method a service registered, as micro call lists it.
type methodJSON struct {
	Name     string `json:"name"`
	Request  string `json:"request"`
	Response string `json:"response"`
}

// registeredMethods returns the methods the registry lists for a service
// of namespace ns ("" for the caller's), sorted by name, once each however
// many versions registered them.
func registeredMethods(ctx context.Context, conn *session.Conn, name, ns string) ([]methodJSON, error) {
	resp, err := registryv1.NewRegistryServiceClient(conn.Client()).GetService(ctx, &registryv1.GetServiceRequest{Name: name, Domain: ns})
	if err != nil {
		return nil, err
	}
	methods := []methodJSON{} // [], not null, in JSON
	for _, s := range resp.GetServices() {
		for _, e := range s.GetEndpoints() {
			methods = append(methods, methodJSON{Name: e.GetName(), Request: e.GetRequest(), Response: e.GetResponse()})
		}
	}
	slices.SortFunc(methods, func(a, b methodJSON) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(methods, func(a, b methodJSON) bool { return a.Name == b.Name }), nil
}
