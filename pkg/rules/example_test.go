package rules_test

import (
	"fmt"

	"m3o.dev/pkg/rules"
)

func ExampleEvaluate() {
	stored := []rules.Rule{
		rules.NamespaceDefault("brave-otter"),
		{
			ID: "no-deletes", Namespace: "brave-otter", Scope: rules.ScopeAccounts,
			Resource: rules.Resource{Type: rules.TypeService, Name: "m3o.store.v1.*", Endpoint: "Delete"},
			Access:   rules.Deny, Priority: 10,
		},
	}
	dev := rules.Caller{Namespace: "brave-otter", Roles: []string{"developer"}}
	for _, endpoint := range []string{"Read", "Delete"} {
		d := rules.Evaluate(stored, dev, "brave-otter", rules.Resource{Type: rules.TypeService, Name: "m3o.store.v1.StoreService", Endpoint: endpoint})
		fmt.Println(endpoint, d.Access, d.Rule.ID)
	}
	// Output:
	// Read GRANT namespace-accounts
	// Delete DENY no-deletes
}
