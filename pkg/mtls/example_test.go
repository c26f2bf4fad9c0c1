package mtls_test

import (
	"fmt"
	"time"

	"m3o.dev/pkg/mtls"
)

// A platform CA issues one bundle per service; the server configuration
// requires platform clients, and the client configuration accepts only the
// service it means to reach.
func Example() {
	ca, err := mtls.NewCA("m3o", 365*24*time.Hour)
	if err != nil {
		panic(err)
	}
	store, err := ca.Issue(mtls.Identity{Namespace: "micro", Service: "store"}, []string{"127.0.0.1"}, 30*24*time.Hour)
	if err != nil {
		panic(err)
	}
	proxy, err := ca.Issue(mtls.Identity{Namespace: "micro", Service: "proxy"}, nil, 30*24*time.Hour)
	if err != nil {
		panic(err)
	}
	server := store.ServerConfig()
	client := proxy.ClientConfig(store.Identity)
	fmt.Println(store.Identity.URI())
	fmt.Println(server.ClientAuth, len(client.Certificates))
	// Output:
	// spiffe://m3o/ns/micro/svc/store
	// RequireAndVerifyClientCert 1
}
