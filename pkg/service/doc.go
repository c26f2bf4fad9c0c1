// Package service is the SDK of a user's service on M3O: a gRPC server to
// register handlers on, which the platform runs, routes to and protects,
// and clients of the platform that act as the service's own account.
//
//	svc := service.New("hello")
//	hellopb.RegisterHelloServer(svc, &Hello{store: svc.Store()})
//	if err := svc.Run(); err != nil {
//		log.Fatal(err)
//	}
//
// # Two modes
//
// On the platform, the runtime starts each instance with the environment
// below. The instance serves gRPC over mTLS with the certificate the runtime
// issued it (spiffe://m3o/ns/<namespace>/svc/<name>), with health and
// server reflection; it registers itself in the registry through the proxy,
// under a 15 second lease renewed every 5 seconds; and it reaches the store,
// config and the namespace's other services through the proxy as its
// service account. The log's first line says "serving on the platform".
//
// With none of the platform's variables set it runs standalone, so that
// `go run .` works for debugging: plain-text gRPC on MICRO_ADDRESS (default
// 127.0.0.1 on a port the system picks, which the log reports), health and
// reflection, no registry, and platform clients that fail every call with
// FailedPrecondition. The log's first line says "serving standalone".
// Setting only some of the platform's variables is an error, not
// standalone.
//
// # Environment
//
//   - MICRO_ADDRESS: host:port to listen on, such as 127.0.0.1:0. The bound
//     address is what the registry lists; an unspecified host (":8080")
//     lists this host's first global unicast address instead.
//   - MICRO_TLS_DIR: a directory holding ca.pem (the platform's root CA),
//     cert.pem (the instance's certificate followed by the runtime's
//     intermediate CA certificate) and key.pem. The runtime renews them by
//     rewriting the files; each new connection uses the files as they are
//     then, so renewal needs no restart.
//   - MICRO_NAMESPACE: the namespace the instance runs in; its certificate
//     must name it.
//   - MICRO_SERVICE_NAME: the service's name, which the certificate must
//     name, under which it registers and which is its store table. It
//     overrides the name given to New.
//   - MICRO_SERVICE_VERSION: the version it registers as; empty is latest.
//   - MICRO_INSTANCE: the instance's number, from 1, in its registry node's
//     metadata as "instance".
//   - MICRO_PROXY: host:port of the proxy's public gRPC port. The instance
//     trusts the certificate there because it chains to ca.pem and names
//     micro/proxy, not because of a host name.
//   - MICRO_ACCOUNT_ID and MICRO_ACCOUNT_SECRET: the service account the
//     runtime created (type service). The instance logs in with them
//     through the proxy on first use and renews its token before it
//     expires. The secret is never logged.
//   - MICRO_HEALTH_ADDRESS: optional host:port of a plain-text listener
//     that serves gRPC health only, for probes that hold no certificate.
//
// Env and its Environ method are the same contract seen from the runtime.
//
// # Who may call
//
// The server requires a client certificate that chains to ca.pem, and
// accepts exactly:
//
//   - micro/proxy, which has verified the caller's token and checked the
//     namespace's rules. The SDK believes the caller the proxy names in the
//     metadata it sets (identity.CallerNamespaceKey and the keys beside
//     it), on a connection from micro/proxy only, and only when that
//     caller is of the instance's namespace. The caller's token comes along
//     as the authorization header; the SDK does not verify it again.
//   - a workload of the instance's own namespace, as itself: the caller is
//     its identity.
//   - micro/runtime, for health only.
//
// Anyone else, another namespace's workloads and the other core services
// included, fails the TLS handshake; should one get past it, each call
// fails with PermissionDenied. Handlers read the caller with
// identity.FromContext.
//
// # Stopping
//
// On SIGTERM or SIGINT, Run deregisters the instance first, reports
// NOT_SERVING on health, keeps serving for a second so that the proxies'
// routing caches drop the node, then stops taking calls and lets those in
// flight finish (for up to ten seconds), and returns nil, so that main
// exits 0.
package service
