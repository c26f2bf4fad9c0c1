package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"m3o.dev/pkg/mtls"
	"m3o.dev/services/server"
)

// syncBuffer is a log sink safe for the platform's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEtcdTrustsOnlyTheRegistry starts micro server and tries its embedded
// etcd as any process on the machine could: in plain text, and with a
// certificate of the platform CA, which signs every core service. Neither
// may write; the registry alone holds a certificate etcd accepts.
func TestEtcdTrustsOnlyTheRegistry(t *testing.T) {
	logs := &syncBuffer{}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := server.Start(ctx, config(dir), slog.New(slog.NewJSONHandler(logs, nil)), io.Discard)
	if err != nil {
		cancel()
		t.Fatalf("Start() = %v", err)
	}
	defer func() { cancel(); p.Wait() }()
	endpoint := etcdEndpoint(t, logs.String())

	if err := etcdPut(t, endpoint, nil); err == nil {
		t.Error("plain-text Put() to the embedded etcd = nil, want a refusal")
	}
	caFile, certFile, keyFile := mtls.BundleFiles(filepath.Join(dir, "certs"), "registry")
	registry, err := mtls.LoadBundle(caFile, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	withPlatformCert := &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{registry.Cert}}
	if err := etcdPut(t, endpoint, withPlatformCert); err == nil {
		t.Error("Put() with the registry's platform certificate = nil, want a refusal: etcd trusts its own CA only")
	}
}

// etcdEndpoint finds the embedded etcd's endpoint in the platform's logs.
func etcdEndpoint(t *testing.T, logs string) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader([]byte(logs)))
	for sc.Scan() {
		var line struct {
			Msg, Endpoint string
			TLS           bool
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "embedded etcd serving" {
			if !line.TLS {
				t.Errorf("embedded etcd serves without TLS")
			}
			return line.Endpoint
		}
	}
	t.Fatalf("no embedded etcd in the logs:\n%s", logs)
	return ""
}

func etcdPut(t *testing.T, endpoint string, tlsConfig *tls.Config) error {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: tlsConfig, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err = c.Put(ctx, "/micro/store/fake", `{"address":"10.6.6.6:8083"}`)
	return err
}
