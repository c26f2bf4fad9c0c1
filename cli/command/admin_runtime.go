package command

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/session"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
	runtimev1 "m3o.dev/proto/m3o/runtime/v1"
)

// adminResizeCommand is `micro admin resize`.
func (a *app) adminResizeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resize",
		Usage:     "change a service's instances and the CPU and memory of each",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Usage: "the service's `NAMESPACE` (required)"},
			&cli.StringFlag{Name: "cpu", Usage: "`CPU` per instance, in millicores (500m) or cores (0.5)"},
			&cli.StringFlag{Name: "memory", Usage: "`MEMORY` per instance, in Mi or Gi (512Mi, 1Gi; M and G read as Mi and Gi)"},
			&cli.UintFlag{Name: "instances", DefaultText: "unchanged", Usage: "run `N` instances, at most 100"},
		},
		Action: a.remote(a.adminResize),
	}
}

// adminQuotaCommand is `micro admin quota`.
func (a *app) adminQuotaCommand() *cli.Command {
	return &cli.Command{
		Name:   "quota",
		Usage:  "show or set what a namespace may use in all",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:      "get",
				Usage:     "show a namespace's quota and what its services use of it",
				ArgsUsage: "NAMESPACE",
				Action:    a.remote(a.adminQuotaGet),
			},
			{
				Name:      "set",
				Usage:     "set a namespace's quota; what is not given stays as it is",
				ArgsUsage: "NAMESPACE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "cpu", Usage: "total `CPU` of every instance, in millicores (4000m) or cores (4)"},
					&cli.StringFlag{Name: "memory", Usage: "total `MEMORY` of every instance, in Mi or Gi (4Gi)"},
					&cli.UintFlag{Name: "services", DefaultText: "unchanged", Usage: "at most `N` services in the namespace"},
				},
				Action: a.remote(a.adminQuotaSet),
			},
		},
	}
}

// adminNamespacesCommand is `micro admin namespaces`.
func (a *app) adminNamespacesCommand() *cli.Command {
	return &cli.Command{
		Name:   "namespaces",
		Usage:  "list the namespaces with what they use of their quotas",
		Action: a.remote(a.adminNamespaces),
	}
}

// adminResize resizes a service of another namespace.
func (a *app) adminResize(c *cli.Context, conn *session.Conn) error {
	if c.String("namespace") == "" {
		return usageErrorf("Name the service's namespace with --namespace.")
	}
	req := &runtimev1.ResizeRequest{Namespace: a.withNamespace(c.String("namespace")), Name: c.Args().First()}
	res, err := resources(c)
	if err != nil {
		return err
	}
	req.Resources, req.Instances = res, uint32(c.Uint("instances"))
	if res == nil && req.Instances == 0 {
		return usageErrorf("Give at least one of --cpu, --memory and --instances.")
	}
	resp, err := runtimeClient(conn).Resize(c.Context, req)
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) { printResize(t, resp) })
}

// resources reads --cpu and --memory; nil when neither is given.
func resources(c *cli.Context) (*runtimev1.Resources, error) {
	var res runtimev1.Resources
	var err error
	if c.IsSet("cpu") {
		if res.CpuMillis, err = parseCPU(c.String("cpu")); err != nil {
			return nil, err
		}
	}
	if c.IsSet("memory") {
		if res.MemoryMib, err = parseMemory(c.String("memory")); err != nil {
			return nil, err
		}
	}
	if res.CpuMillis == 0 && res.MemoryMib == 0 {
		return nil, nil
	}
	return &res, nil
}

// printResize says what the service now asks for and what happens to the
// instances that run.
func printResize(t *tabwriter.Writer, resp *runtimev1.ResizeResponse) {
	svc := resp.GetService()
	o := svc.GetOptions()
	row(t, fmt.Sprintf("Resized %s in namespace '%s' to %d instances of %s CPU and %s memory (generation %d).",
		svc.GetName(), svc.GetNamespace(), o.GetInstances(), formatCPU(o.GetResources().GetCpuMillis()),
		formatMemory(o.GetResources().GetMemoryMib()), svc.GetGeneration()))
	row(t, restartSentence(resp))
	for _, n := range resp.GetNotes() {
		row(t, "Note: "+n)
	}
}

// restartSentence says whether running instances restart, and how.
func restartSentence(resp *runtimev1.ResizeResponse) string {
	switch {
	case !resp.GetRestarts():
		return "Running instances keep running: the change applies in place."
	case resp.GetRollout() == runtimev1.Rollout_ROLLOUT_ONE_AT_A_TIME:
		return "Running instances restart one at a time (the quota leaves no room for an extra one)."
	}
	return "Running instances restart: new ones start before old ones stop."
}

// adminQuotaGet shows a namespace's quota and usage.
func (a *app) adminQuotaGet(c *cli.Context, conn *session.Conn) error {
	ns := a.withNamespace(c.Args().First())
	resp, err := runtimeClient(conn).GetQuota(c.Context, &runtimev1.GetQuotaRequest{Namespace: ns})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		printQuota(t, ns, resp.GetQuota(), resp.GetUsage(), resp.GetPlatformDefault())
	})
}

// adminQuotaSet changes the limits given and keeps the others. A
// namespace on the platform's default keeps following the default in
// what is not given.
func (a *app) adminQuotaSet(c *cli.Context, conn *session.Conn) error {
	ns := a.withNamespace(c.Args().First())
	want, err := quotaFlags(c)
	if err != nil {
		return err
	}
	rt := runtimeClient(conn)
	cur, err := rt.GetQuota(c.Context, &runtimev1.GetQuotaRequest{Namespace: ns})
	if err != nil {
		return err
	}
	q := mergeQuota(want, cur)
	resp, err := rt.SetQuota(c.Context, &runtimev1.SetQuotaRequest{Namespace: ns, Quota: q})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		printQuota(t, ns, resp.GetQuota(), resp.GetUsage(), false)
	})
}

// quotaFlags reads the limits given; at least one must be.
func quotaFlags(c *cli.Context) (*runtimev1.Quota, error) {
	var q runtimev1.Quota
	var err error
	if c.IsSet("cpu") {
		if q.CpuMillis, err = parseCPU(c.String("cpu")); err != nil {
			return nil, err
		}
	}
	if c.IsSet("memory") {
		if q.MemoryMib, err = parseMemory(c.String("memory")); err != nil {
			return nil, err
		}
	}
	if c.IsSet("services") {
		if q.Services = uint32(c.Uint("services")); q.Services == 0 {
			return nil, usageErrorf("--services must be at least 1.")
		}
	}
	if q.CpuMillis == 0 && q.MemoryMib == 0 && q.Services == 0 {
		return nil, usageErrorf("Give at least one of --cpu, --memory and --services.")
	}
	return &q, nil
}

// mergeQuota fills the limits not given from the namespace's own quota;
// on the platform's default they stay 0, which is the default.
func mergeQuota(want *runtimev1.Quota, cur *runtimev1.GetQuotaResponse) *runtimev1.Quota {
	if cur.GetPlatformDefault() {
		return want
	}
	q := cur.GetQuota()
	if want.CpuMillis == 0 {
		want.CpuMillis = q.GetCpuMillis()
	}
	if want.MemoryMib == 0 {
		want.MemoryMib = q.GetMemoryMib()
	}
	if want.Services == 0 {
		want.Services = q.GetServices()
	}
	return want
}

// printQuota shows each limit beside what is used of it.
func printQuota(t *tabwriter.Writer, ns string, q *runtimev1.Quota, u *runtimev1.Usage, def bool) {
	row(t, "RESOURCE", "USED", "QUOTA")
	row(t, "cpu", formatCPU(u.GetCpuMillis()), formatCPU(q.GetCpuMillis()))
	row(t, "memory", formatMemory(u.GetMemoryMib()), formatMemory(q.GetMemoryMib()))
	row(t, "services", fmt.Sprint(u.GetServices()), fmt.Sprint(q.GetServices()))
	row(t, "instances", fmt.Sprint(u.GetInstances()), "-")
	if def {
		row(t)
		row(t, fmt.Sprintf("Namespace '%s' has the platform's default quota.", ns))
	}
}

// adminNamespaces lists every namespace, page by page.
func (a *app) adminNamespaces(c *cli.Context, conn *session.Conn) error {
	rt := runtimeClient(conn)
	all := &runtimev1.ListNamespacesResponse{}
	req := &runtimev1.ListNamespacesRequest{}
	for {
		resp, err := rt.ListNamespaces(c.Context, req)
		if err != nil {
			return err
		}
		all.Namespaces = append(all.Namespaces, resp.GetNamespaces()...)
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	billed, err := billingOf(c.Context, billingClient(conn), all.GetNamespaces())
	if err != nil {
		return err
	}
	return a.out.print(namespacesJSON(all, billed), func(t *tabwriter.Writer) {
		row(t, "NAMESPACE", "CPU", "MEMORY", "SERVICES", "INSTANCES", "QUOTA", "BILLING", "CREATED")
		for i, ns := range all.GetNamespaces() {
			q, u := ns.GetQuota(), ns.GetUsage()
			row(t, ns.GetNamespace(),
				formatCPU(u.GetCpuMillis())+"/"+formatCPU(q.GetCpuMillis()),
				formatMemory(u.GetMemoryMib())+"/"+formatMemory(q.GetMemoryMib()),
				fmt.Sprintf("%d/%d", u.GetServices(), q.GetServices()),
				fmt.Sprint(u.GetInstances()), quotaKind(ns.GetPlatformDefault()), billed[i], when(ns.GetCreated()))
		}
	})
}

// namespacesJSON is the JSON of admin namespaces: the runtime's list, and
// each namespace's billing status by name.
func namespacesJSON(all *runtimev1.ListNamespacesResponse, billed []string) any {
	out := struct {
		Namespaces []json.RawMessage `json:"namespaces"`
		Billing    map[string]string `json:"billing"`
	}{Namespaces: []json.RawMessage{}, Billing: map[string]string{}}
	for i, ns := range all.GetNamespaces() {
		out.Namespaces = append(out.Namespaces, rawProto(ns))
		out.Billing[ns.GetNamespace()] = billed[i]
	}
	return out
}

// billingOf returns, for each namespace, its subscription's status, or
// "exempt" for a namespace an admin made, which has no subscription and is
// never gated for payment.
func billingOf(ctx context.Context, bc billingv1.BillingServiceClient, nss []*runtimev1.NamespaceUsage) ([]string, error) {
	out := make([]string, len(nss))
	for i, ns := range nss {
		resp, err := bc.GetSubscription(ctx, &billingv1.GetSubscriptionRequest{Namespace: ns.GetNamespace()})
		switch {
		case status.Code(err) == codes.NotFound:
			out[i] = "exempt"
		case err != nil:
			return nil, err
		default:
			out[i] = enumWord(resp.GetSubscription().GetStatus().String(), "SUBSCRIPTION_STATUS_")
		}
	}
	return out, nil
}

func quotaKind(def bool) string {
	if def {
		return "default"
	}
	return "own"
}
