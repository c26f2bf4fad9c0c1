package command

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"m3o.dev/cli/internal/session"
	billingv1 "m3o.dev/proto/m3o/billing/v1"
)

// billingCommand shows and manages the subscription of the namespace.
func (a *app) billingCommand() *cli.Command {
	return &cli.Command{
		Name:   "billing",
		Usage:  "show and manage your namespace's subscription",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:   "status",
				Usage:  "show the plan, its price, its status and when it renews",
				Action: a.remote(a.billingStatus),
			},
			{
				Name:   "portal",
				Usage:  "print the page where the card is changed (or, once the subscription has ended, where a new one starts)",
				Action: a.remote(a.billingPortal),
			},
			{
				Name:   "cancel",
				Usage:  "cancel the subscription; it ends at the end of the paid period",
				Action: a.remote(a.billingCancel),
			},
			{
				Name:   "resume",
				Usage:  "take back a cancel before the paid period ends; the subscription renews again",
				Action: a.remote(a.billingResume),
			},
		},
	}
}

// adminBillingCommand is `micro admin billing`: any namespace's
// subscription, for admins of micro.
func (a *app) adminBillingCommand() *cli.Command {
	return &cli.Command{
		Name:   "billing",
		Usage:  "show or set the subscription of any namespace",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:      "status",
				Usage:     "show a namespace's subscription, or set its status by hand (comping it, or correcting it)",
				ArgsUsage: "NAMESPACE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "set", Usage: "set the status: `STATUS` is active, past_due or canceled"},
				},
				Action: a.remote(a.adminBillingStatus),
			},
		},
	}
}

func billingClient(conn *session.Conn) billingv1.BillingServiceClient {
	return billingv1.NewBillingServiceClient(conn.Client())
}

// billingStatus shows the caller's subscription.
func (a *app) billingStatus(c *cli.Context, conn *session.Conn) error {
	resp, err := billingClient(conn).GetSubscription(c.Context, &billingv1.GetSubscriptionRequest{})
	if status.Code(err) == codes.NotFound {
		return a.printExempt()
	}
	if err != nil {
		return err
	}
	return a.printSubscription(resp.GetSubscription())
}

// printExempt says that the caller's namespace, which has no subscription,
// has nothing to pay: billing gates only namespaces that subscribed.
func (a *app) printExempt() error {
	ns := a.scope.namespace
	return a.out.print(map[string]any{"namespace": ns, "exempt": true}, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Namespace '%s' has no subscription and nothing to pay: an admin made it, not a sign-up, and billing never stops its services.", ns))
	})
}

// billingPortal prints the page where the card changes.
func (a *app) billingPortal(c *cli.Context, conn *session.Conn) error {
	resp, err := billingClient(conn).Portal(c.Context, &billingv1.PortalRequest{})
	if err != nil {
		return err
	}
	return a.out.print(map[string]string{"url": resp.GetUrl()}, func(t *tabwriter.Writer) {
		row(t, "Open this page to change your card: "+resp.GetUrl())
	})
}

// billingCancel cancels at the end of the paid period.
func (a *app) billingCancel(c *cli.Context, conn *session.Conn) error {
	resp, err := billingClient(conn).Cancel(c.Context, &billingv1.CancelRequest{})
	if err != nil {
		return err
	}
	sub := resp.GetSubscription()
	return a.out.print(sub, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Canceled: the subscription of namespace '%s' ends on %s; 'micro billing resume' takes the cancel back until then.",
			sub.GetNamespace(), day(sub.GetCurrentPeriodEnd().AsTime())))
	})
}

// billingResume takes back a cancel while the paid period lasts.
func (a *app) billingResume(c *cli.Context, conn *session.Conn) error {
	resp, err := billingClient(conn).Resume(c.Context, &billingv1.ResumeRequest{})
	if err != nil {
		return subscriptionEnded(describe(err, a.scope))
	}
	sub := resp.GetSubscription()
	return a.out.print(sub, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Resumed: the subscription of namespace '%s' renews on %s.", sub.GetNamespace(), day(sub.GetCurrentPeriodEnd().AsTime())))
	})
}

// subscriptionEnded adds to a refusal because the subscription has ended
// the command that starts a new one.
func subscriptionEnded(f *failure) *failure {
	if f.reason == reasonSubscriptionEnded {
		f.message = strings.TrimSuffix(f.message, ".") + ": 'micro billing portal' starts it."
	}
	return f
}

// adminBillingStatus shows, or with --set sets, a namespace's subscription.
func (a *app) adminBillingStatus(c *cli.Context, conn *session.Conn) error {
	ns := a.withNamespace(c.Args().First())
	set := c.String("set")
	if set == "" {
		resp, err := billingClient(conn).GetSubscription(c.Context, &billingv1.GetSubscriptionRequest{Namespace: ns})
		if err != nil {
			return err
		}
		return a.printSubscription(resp.GetSubscription())
	}
	st, ok := billingv1.SubscriptionStatus_value["SUBSCRIPTION_STATUS_"+strings.ToUpper(set)]
	if !ok || set != strings.ToLower(set) || st == int32(billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_UNSPECIFIED) {
		return usageErrorf("--set must be active, past_due or canceled, not %q.", set)
	}
	resp, err := billingClient(conn).AdminSetStatus(c.Context, &billingv1.AdminSetStatusRequest{Namespace: ns, Status: billingv1.SubscriptionStatus(st)})
	if err != nil {
		return err
	}
	return a.printSubscription(resp.GetSubscription())
}

// printSubscription shows a subscription as one line of facts, or as JSON.
func (a *app) printSubscription(sub *billingv1.Subscription) error {
	return a.out.print(sub, func(t *tabwriter.Writer) {
		row(t, "NAMESPACE", "PLAN", "PRICE", "STATUS", periodWord(sub))
		row(t, sub.GetNamespace(), sub.GetPlan().GetName(), priceOf(sub.GetPlan()),
			enumWord(sub.GetStatus().String(), "SUBSCRIPTION_STATUS_"), periodEnd(sub))
	})
}

// periodWord names the period's end: when it renews, or when it ends.
func periodWord(sub *billingv1.Subscription) string {
	if sub.GetCancelAtPeriodEnd() || sub.GetStatus() == billingv1.SubscriptionStatus_SUBSCRIPTION_STATUS_CANCELED {
		return "ENDS"
	}
	return "RENEWS"
}

func periodEnd(sub *billingv1.Subscription) string {
	if sub.GetCurrentPeriodEnd() == nil {
		return "-"
	}
	return day(sub.GetCurrentPeriodEnd().AsTime())
}

func day(t time.Time) string { return t.Local().Format(time.DateOnly) }

// priceOf shows a plan's price: $35.00/month.
func priceOf(p *billingv1.Plan) string {
	cents := p.GetAmountCents()
	amount := fmt.Sprintf("%d.%02d %s", cents/100, cents%100, strings.ToUpper(p.GetCurrency()))
	if p.GetCurrency() == "usd" {
		amount = fmt.Sprintf("$%d.%02d", cents/100, cents%100)
	}
	if p.GetInterval() == "" {
		return amount
	}
	return amount + "/" + p.GetInterval()
}
