package deploycheck

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"m3o.dev/services/internal/k8stest"
)

// TestEtcdTrustsOnlyTheRegistry runs one etcd member with the TLS flags of
// the production StatefulSet and the certificates of scripts/certs.sh,
// and checks that its client port accepts the registry's certificate and
// no other: not the members' own peer or serving certificates, not a
// platform certificate, not a connection without one.
func TestEtcdTrustsOnlyTheRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping a test that runs etcd")
	}
	bin, err := k8stest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	certs := t.TempDir()
	runCerts(t, certs)
	etcd := filepath.Join(certs, "etcd")
	url := startEtcdMember(t, filepath.Join(bin, "etcd"), certs, etcdTLSArgs(t, etcd))
	tests := []struct {
		name, cert, key string
		ok              bool
	}{
		{"registry", "etcd/registry.pem", "etcd/registry-key.pem", true},
		{"member's peer certificate", "etcd/peer.pem", "etcd/peer-key.pem", false},
		{"member's serving certificate", "etcd/server.pem", "etcd/server-key.pem", false},
		{"platform certificate of micro/registry", "registry.pem", "registry-key.pem", false},
		{"no certificate", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := etcdHealth(url, filepath.Join(etcd, "ca.pem"), certs, tt.cert, tt.key)
			if tt.ok && err != nil {
				t.Errorf("GET %s/health with %s: %v, want 200", url, tt.name, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "remote error: tls:")) {
				t.Errorf("GET %s/health with %s = %v, want the member to refuse the handshake", url, tt.name, err)
			}
		})
	}
}

// etcdTLSArgs returns the TLS flags of the production etcd StatefulSet,
// with the files of its Secret's mount found in dir.
func etcdTLSArgs(t *testing.T, dir string) []string {
	t.Helper()
	var args []string
	for _, w := range workloads(t, renderOverlay(t, "production")) {
		if w.kind != "StatefulSet" || w.name != "etcd" {
			continue
		}
		for _, a := range w.template.Spec.Containers[0].Args {
			name, value, _ := strings.Cut(a, "=")
			if !strings.HasSuffix(name, "-file") && !strings.HasSuffix(name, "-cert-auth") {
				continue
			}
			if value != "" {
				a = name + "=" + filepath.Join(dir, path.Base(value))
			}
			args = append(args, a)
		}
	}
	if len(args) < 8 {
		t.Fatalf("the etcd StatefulSet's TLS flags are %v; want client and peer TLS with certificate auth", args)
	}
	return args
}

// startEtcdMember starts a one-member cluster on free loopback ports with
// the TLS flags tlsArgs, peers over TLS too, and returns its client URL
// once it answers the registry's certificate of certDir. The member dies
// with the test binary.
func startEtcdMember(t *testing.T, bin, certDir string, tlsArgs []string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		client, peer := fmt.Sprintf("https://127.0.0.1:%d", freeTCPPort(t)), fmt.Sprintf("https://127.0.0.1:%d", freeTCPPort(t))
		args := append([]string{
			"--name=etcd-0", "--data-dir=" + filepath.Join(dir, "data"),
			"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=etcd-0=" + peer, "--unsafe-no-fsync", "--log-level=warn",
		}, tlsArgs...)
		logPath := filepath.Join(dir, "etcd.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logFile.Close()
		if err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); <-exited })
		err = waitEtcd(client, certDir, exited)
		if err == nil {
			return client
		}
		logData, _ := os.ReadFile(logPath)
		if attempt == 5 || !strings.Contains(string(logData), "address already in use") {
			t.Fatalf("start etcd: %v\n%s", err, logData)
		}
		_ = os.RemoveAll(filepath.Join(dir, "data"))
	}
}

// waitEtcd polls the member's health with the registry's certificate
// until it answers, the member exits or a minute has passed.
func waitEtcd(url, certDir string, exited <-chan error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := etcdHealth(url, filepath.Join(certDir, "etcd", "ca.pem"), certDir, "etcd/registry.pem", "etcd/registry-key.pem")
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("etcd exited: %v", werr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd not ready: %w", err)
		}
	}
}

// etcdHealth asks the member's /health, trusting caFile and presenting
// the certificate cert with key (files of certDir), or none when cert is
// empty.
func etcdHealth(url, caFile, certDir, cert, key string) error {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool()}
	cfg.RootCAs.AppendCertsFromPEM(caPEM)
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(filepath.Join(certDir, cert), filepath.Join(certDir, key))
		if err != nil {
			return err
		}
		// Present the certificate whatever CAs the server asks for, so that
		// the server, not the client, decides.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
	resp, err := client.Get(url + "/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /health: %s", resp.Status)
	}
	return nil
}
