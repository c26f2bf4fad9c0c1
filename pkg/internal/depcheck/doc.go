// Package depcheck holds only a test: it keeps the heavy dependencies that
// belong in services (an etcd server, a Kubernetes client, database drivers,
// an embedded LSM store) out of m3o.dev/pkg, which every user service
// imports.
package depcheck
