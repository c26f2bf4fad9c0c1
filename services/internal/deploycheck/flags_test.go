package deploycheck

import (
	"slices"
	"testing"
)

// serviceFlags is the command line every services/cmd binary is to take,
// which deploy/kubernetes is written for (each flag also read from
// MICRO_<SERVICE>_<FLAG>). It is the one place that says so.
var serviceFlags = map[string][]string{
	"store":    {"backend", "dsn"},
	"registry": {"etcd-endpoints", "etcd-ca-file", "etcd-cert-file", "etcd-key-file"},
	"auth":     {"store-address", "billing-address", "data-dir", "key-encryption-key-file", "smtp-address", "smtp-from", "smtp-ca-file"},
	"config":   {"store-address", "keyring-file"},
	"billing":  {"store-address", "provider", "public-url", "stripe-price"},
	"proxy":    {"http-address", "router-cert-file", "router-key-file", "store-address", "config-address", "billing-address", "payment-grace"},
}

// commonFlags are taken by every service.
var commonFlags = []string{
	"address", "health-address", "ca-file", "cert-file", "key-file",
	"auth-address", "registry-address", "log-level", "log-format",
}

// TestFlagContract checks that every binary defines the flags of
// serviceFlags and commonFlags.
func TestFlagContract(t *testing.T) {
	bins := binaryFlags(t)
	for svc, own := range serviceFlags {
		t.Run(svc, func(t *testing.T) {
			b, ok := bins[svc]
			if !ok {
				t.Fatalf("services/cmd builds no %s", svc)
			}
			var missing []string
			for _, f := range slices.Concat(commonFlags, own) {
				if !b.flags[f] {
					missing = append(missing, "--"+f)
				}
			}
			if len(missing) > 0 {
				t.Errorf("%s does not define %v", svc, missing)
			}
		})
	}
}
