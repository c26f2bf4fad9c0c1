// Package sdkcheck tests the SDK (m3o.dev/pkg/service) and the proxy's
// routing to users' services end to end, against real core services on
// mTLS loopback (coretest): instances in process and as real processes,
// two tenants side by side, and grpcurl through the proxy. It holds tests
// only.
package sdkcheck
