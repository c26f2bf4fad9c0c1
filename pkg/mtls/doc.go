// Package mtls is the platform's public key infrastructure: a certificate
// authority that issues one certificate per service identity, and the TLS
// configurations that every hop inside the platform uses.
//
// An identity is a SPIFFE-style URI, spiffe://m3o/ns/<namespace>/svc/<service>,
// carried as the only URI SAN of a certificate. Servers require and verify
// client certificates and read the caller's identity from that SAN; clients
// verify the server's chain and then check that the server is the identity
// they meant to reach. Host names are not what a client trusts: the identity
// is. That lets a service move between addresses (loopback ports in
// `micro server`, pod IPs in Kubernetes) without reissuing certificates.
//
// All configurations are TLS 1.3 only, and keys are ECDSA P-256, which every
// TLS stack the platform meets understands.
package mtls
