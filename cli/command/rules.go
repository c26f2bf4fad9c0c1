package command

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"m3o.dev/cli/internal/session"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// rulesCommand manages the access rules of a namespace.
func (a *app) rulesCommand() *cli.Command {
	ns := namespaceFlag("`NAMESPACE` of the rules (admins of micro only; default: yours)")
	resource := &cli.StringFlag{Name: "resource", Usage: "`RESOURCE` as service:NAME:ENDPOINT, where * matches anything"}
	return &cli.Command{
		Name:   "rules",
		Usage:  "list, create, delete and explain access rules",
		Action: a.group,
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "list the rules of a namespace, then the platform's built-in rules",
				Flags:  []cli.Flag{ns},
				Action: a.remote(a.rulesList),
			},
			{
				Name:  "create",
				Usage: "add a rule granting or denying a scope access to a resource",
				Flags: []cli.Flag{
					ns, resource,
					&cli.StringFlag{Name: "id", Usage: "`ID` of the rule (default: generated)"},
					&cli.StringFlag{Name: "scope", Usage: "`SCOPE`: a role, * for any account of the namespace, or \"\" for anyone"},
					&cli.StringFlag{Name: "access", Usage: "`ACCESS`: grant or deny"},
					&cli.IntFlag{Name: "priority", Usage: "`PRIORITY`: the highest matching rule decides, deny winning ties"},
					&cli.StringFlag{Name: "description", Usage: "`TEXT` saying what the rule is for, at most 256 characters"},
				},
				Before: requireRuleFlags,
				Action: a.remote(a.rulesCreate),
			},
			{
				Name:      "delete",
				Aliases:   []string{"del"},
				Usage:     "delete a rule; built-in rules cannot be deleted",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{ns},
				Action:    a.remote(a.rulesDelete),
			},
			{
				Name:  "explain",
				Usage: "show whether an account may call a resource, and which rule decides",
				Flags: []cli.Flag{
					ns, resource,
					&cli.StringFlag{Name: "account", Usage: "`ACCOUNT` name or id (default: an anonymous caller)"},
				},
				Before: requireResource,
				Action: a.remote(a.rulesExplain),
			},
		},
	}
}

// rulesClient returns the rules client of conn.
func rulesClient(conn *session.Conn) authv1.RulesServiceClient {
	return authv1.NewRulesServiceClient(conn.Client())
}

// requireRuleFlags checks the flags of 'auth rules create'. The scope must be
// given even when empty, because an empty scope opens the resource to anyone
// and that must never happen by omission.
func requireRuleFlags(c *cli.Context) error {
	if !c.IsSet("scope") {
		return usageErrorf("'micro auth rules create' needs --scope: a role, '*' for any account of the namespace, or '' for anyone.")
	}
	if _, err := parseAccess(c.String("access")); err != nil {
		return err
	}
	return requireResource(c)
}

// requireResource checks --resource.
func requireResource(c *cli.Context) error {
	_, err := parseResource(c.String("resource"))
	return err
}

// parseResource parses TYPE:NAME:ENDPOINT.
func parseResource(s string) (*authv1.Resource, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, usageErrorf("--resource must be service:NAME:ENDPOINT, such as service:hello:Hello.Call, not %q.", s)
	}
	return &authv1.Resource{Type: parts[0], Name: parts[1], Endpoint: parts[2]}, nil
}

// parseAccess parses grant or deny.
func parseAccess(s string) (authv1.Access, error) {
	switch strings.ToLower(s) {
	case "grant":
		return authv1.Access_ACCESS_GRANT, nil
	case "deny":
		return authv1.Access_ACCESS_DENY, nil
	}
	return authv1.Access_ACCESS_UNSPECIFIED, usageErrorf("--access must be grant or deny, not %q.", s)
}

// rulesList lists the namespace's own rules, then, apart, the platform's
// built-in rules, so that a built-in rule's scope is never read as one of
// the namespace's: "admin" there means the admins of micro.
func (a *app) rulesList(c *cli.Context, conn *session.Conn) error {
	resp, err := rulesClient(conn).List(c.Context, &authv1.RulesServiceListRequest{Namespace: a.withNamespace(c.String("namespace"))})
	if err != nil {
		return err
	}
	var own, builtin []*authv1.Rule
	for _, r := range resp.GetRules() {
		if r.GetBuiltin() {
			builtin = append(builtin, r)
		} else {
			own = append(own, r)
		}
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		ruleTable(t, own, scopeWord)
		row(t, "")
		row(t, "Built-in rules of the platform: they apply in every namespace and cannot be deleted.")
		ruleTable(t, builtin, builtinScope)
	})
}

// ruleTable writes rules as a table, each scope shown by scope.
func ruleTable(t io.Writer, list []*authv1.Rule, scope func(string) string) {
	row(t, "ID", "SCOPE", "RESOURCE", "ACCESS", "PRIORITY", "DESCRIPTION")
	for _, r := range list {
		row(t, r.GetId(), scope(r.GetScope()), resourceString(r.GetResource()), accessWord(r.GetAccess()),
			strconv.Itoa(int(r.GetPriority())), orDash(r.GetDescription()))
	}
}

// builtinScope shows the scope of a built-in rule, which belongs to micro:
// a role there is micro's.
func builtinScope(scope string) string {
	if scope == "" || scope == "*" {
		return scopeWord(scope)
	}
	return "role " + scope + " of micro"
}

// rulesCreate adds a rule.
func (a *app) rulesCreate(c *cli.Context, conn *session.Conn) error {
	access, err := parseAccess(c.String("access"))
	if err != nil {
		return err
	}
	res, err := parseResource(c.String("resource"))
	if err != nil {
		return err
	}
	resp, err := rulesClient(conn).Create(c.Context, &authv1.RulesServiceCreateRequest{Rule: &authv1.Rule{
		Id:          c.String("id"),
		Namespace:   a.withNamespace(c.String("namespace")),
		Scope:       c.String("scope"),
		Resource:    res,
		Access:      access,
		Priority:    int32(c.Int("priority")),
		Description: c.String("description"),
	}})
	if err != nil {
		return err
	}
	r := resp.GetRule()
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("Created rule %s: %s %s to %s at priority %d.",
			r.GetId(), accessWord(r.GetAccess()), resourceString(r.GetResource()), scopeWord(r.GetScope()), r.GetPriority()))
	})
}

// rulesDelete deletes a rule.
func (a *app) rulesDelete(c *cli.Context, conn *session.Conn) error {
	id := c.Args().First()
	_, err := rulesClient(conn).Delete(c.Context, &authv1.RulesServiceDeleteRequest{Namespace: a.withNamespace(c.String("namespace")), Id: id})
	if err != nil {
		return err
	}
	return a.out.print(map[string]any{"rule": id, "deleted": true}, func(t *tabwriter.Writer) {
		row(t, "Deleted rule "+id+".")
	})
}

// rulesExplain shows how a request would be decided.
func (a *app) rulesExplain(c *cli.Context, conn *session.Conn) error {
	res, err := parseResource(c.String("resource"))
	if err != nil {
		return err
	}
	resp, err := rulesClient(conn).Explain(c.Context, &authv1.ExplainRequest{
		Namespace: a.withNamespace(c.String("namespace")),
		Account:   c.String("account"),
		Resource:  res,
	})
	if err != nil {
		return err
	}
	return a.out.print(resp, func(t *tabwriter.Writer) {
		row(t, "DECISION", accessWord(resp.GetAccess()))
		rule := "none: nothing matched, so the default denial applied"
		if r := resp.GetRule(); r != nil {
			scope := scopeWord
			if r.GetBuiltin() {
				scope = builtinScope
			}
			rule = fmt.Sprintf("%s (%s, priority %d)", r.GetId(), scope(r.GetScope()), r.GetPriority())
		}
		row(t, "RULE", rule)
		row(t, "REASON", orDash(resp.GetReason()))
	})
}

// accessWord shows an access decision as grant or deny.
func accessWord(a authv1.Access) string {
	return enumWord(a.String(), "ACCESS_")
}

// scopeWord shows a scope, naming the two special ones.
func scopeWord(scope string) string {
	switch scope {
	case "":
		return "anyone"
	case "*":
		return "any account"
	}
	return "role " + scope
}

// resourceString shows a resource as TYPE:NAME:ENDPOINT.
func resourceString(r *authv1.Resource) string {
	return r.GetType() + ":" + r.GetName() + ":" + r.GetEndpoint()
}
