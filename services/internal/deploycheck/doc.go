// Package deploycheck keeps deploy/ and scripts/certs.sh in step with the
// code and proves them against real servers. It has only tests:
//
//   - every manifest under deploy/kubernetes parses and names itself,
//     every kustomization lists the files beside it, and every M3O
//     container sets only flags and variables its binary defines
//     (manifests_test.go; flags_test.go holds the flags deploy/ is
//     written for);
//   - each overlay, rendered with kustomize and applied with the Secrets
//     scripts/certs.sh writes, passes validation and pod-security admission
//     on a real kube-apiserver, and kube-controller-manager rolls out its
//     Deployments, StatefulSets and PodDisruptionBudgets; a broken manifest
//     is refused (deploy_test.go, with k8stest);
//   - the core services listen on the port table's ports, serve health to
//     gRPC probes, read certificates from Secrets, have resources, and run
//     as non-root on a read-only root (core_test.go);
//   - every NetworkPolicy, evaluated with netpol against the platform's
//     pods and strangers, keeps everything but the store and the registry
//     away from the databases (networkpolicy_test.go);
//   - the certificates load with pkg/mtls (certs_test.go); the store's
//     DSN with CockroachDB's client certificate opens a PostgreSQL that
//     takes nothing else (postgres_test.go); an etcd member with the
//     StatefulSet's TLS flags accepts the registry's certificate and no
//     other (etcd_test.go).
//
// What only a real cluster shows is listed in deploy/README.md.
package deploycheck
