package identity_test

import (
	"context"
	"fmt"

	"m3o.dev/pkg/identity"
)

// A handler reads the verified caller that the interceptor put in its
// context, and scopes everything it does to the caller's namespace.
func ExampleFromContext() {
	handler := func(ctx context.Context) string {
		c, ok := identity.FromContext(ctx)
		if !ok {
			return "refused"
		}
		return fmt.Sprintf("namespace %s, admin %v", c.Namespace, c.IsAdmin())
	}
	ctx := identity.NewContext(context.Background(), identity.Caller{Namespace: "micro", Subject: "acc-1", Roles: []string{"admin"}})
	fmt.Println(handler(ctx))
	fmt.Println(handler(context.Background()))
	// Output:
	// namespace micro, admin true
	// refused
}
