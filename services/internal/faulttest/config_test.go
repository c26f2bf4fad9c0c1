package faulttest_test

import (
	"context"
	"strings"
	"testing"

	configv1 "m3o.dev/proto/m3o/config/v1"
	"m3o.dev/services/internal/faulttest"
)

// TestConfigReplicaKilled kills one of two config replicas with SIGKILL
// while a tenant sets config through the proxy, which reaches both
// through one comma-separated address: the sets go on through the other,
// and every acknowledged set reads back. The replicas keep nothing another
// needs: the document lives in the store.
func TestConfigReplicaKilled(t *testing.T) {
	pl := startPlatform(t, layout{auth: 1, config: 2})
	conn := pl.client(t)
	tenant := newTenant(t, conn)
	cfg := configv1.NewConfigServiceClient(conn)
	path := func(key string) string { return strings.NewReplacer("/", "_").Replace(key) }
	w := faulttest.Start(4, 5, func(ctx context.Context, key string, value []byte) error {
		_, err := cfg.Set(withTokenOf(ctx, tenant), &configv1.SetRequest{Path: path(key), Value: string(value)})
		return err
	})
	w.KillUnder(t, "one of two config replicas killed", pl.config[0], 100, 100, func(ctx context.Context, key string) ([]byte, error) {
		resp, err := cfg.Get(withTokenOf(ctx, tenant), &configv1.GetRequest{Path: path(key)})
		return []byte(resp.GetValue()), err
	})
}
