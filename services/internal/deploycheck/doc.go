// Package deploycheck keeps deploy/ and scripts/certs.sh in step with the
// code. It has only tests: every Kubernetes manifest under deploy/kubernetes
// must parse and name itself, every kustomization must list exactly the
// files beside it, every M3O container may set only the flags and
// environment variables its binary defines, every Service must select a
// workload and name its ports; and the certificates scripts/certs.sh writes
// must load with pkg/mtls and complete an mTLS handshake.
//
// The manifests are not a Go module's, and kubectl is not a test
// dependency, so the checks decode the YAML themselves and ask each binary
// for its flags with --help.
package deploycheck
