package etcdembed_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"m3o.dev/services/registry/etcdembed"
)

// TestRestart writes through a client, restarts the server on the same data
// directory and URLs, and reads the write back through the same client.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	srv, err := etcdembed.Start(etcdembed.Options{Dir: dir, Logger: logger})
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("clientv3.New = %v", err)
	}
	defer c.Close()
	if _, err := c.Put(t.Context(), "k", "v"); err != nil {
		t.Fatalf("Put = %v", err)
	}
	srv.Close()
	srv.Close() // Closing twice is allowed.

	again, err := etcdembed.Start(etcdembed.Options{Dir: dir, ClientURL: srv.ClientURL(), PeerURL: srv.PeerURL(), Logger: logger})
	if err != nil {
		t.Fatalf("Start again = %v", err)
	}
	defer again.Close()
	resp, err := c.Get(t.Context(), "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("Get after restart = %v, %v, want v", resp, err)
	}
	if logs.Len() != 0 {
		t.Errorf("etcd logged at error level during a clean start, stop and restart:\n%s", logs.String())
	}
}

func TestStartNeedsDir(t *testing.T) {
	if srv, err := etcdembed.Start(etcdembed.Options{}); err == nil {
		srv.Close()
		t.Fatal("Start without a directory = nil, want an error")
	}
}
