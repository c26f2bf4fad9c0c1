package mtls_test

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"m3o.dev/pkg/mtls"
	"m3o.dev/pkg/mtls/mtlstest"
)

// tlsServer accepts connections on a loopback listener, completes the
// handshake with cfg and writes "ok\n". Each handshake's result, nil or an
// error, goes to the returned channel.
func tlsServer(t *testing.T, cfg *tls.Config) (addr string, results <-chan error) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("tls.Listen() = %v", err)
	}
	t.Cleanup(func() { lis.Close() })
	out := make(chan error, 16)
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				err := conn.(*tls.Conn).Handshake()
				if err == nil {
					_, err = conn.Write([]byte("ok\n"))
				}
				out <- err
			}()
		}
	}()
	return lis.Addr().String(), out
}

// talk dials addr with cfg and reads the server's greeting. In TLS 1.3 a
// server rejects a client certificate after the client finished its side of
// the handshake, so only the read shows whether the server accepted us.
func talk(addr string, cfg *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ok\n" {
		return errors.New("unexpected greeting " + line)
	}
	return nil
}

// serverResult waits for the server's view of the last handshake.
func serverResult(t *testing.T, results <-chan error) error {
	t.Helper()
	select {
	case err := <-results:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("server saw no handshake")
		return nil
	}
}

func TestHandshake(t *testing.T) {
	ca := mtlstest.NewCA(t)
	foreign := mtlstest.NewCA(t)
	store := mtlstest.Bundle(t, ca, "micro", "store")
	proxy := mtlstest.Bundle(t, ca, "micro", "proxy")
	impostor := mtlstest.Bundle(t, foreign, "micro", "proxy")
	expired, err := mtls.IssueAt(ca, time.Now().Add(-2*time.Hour), mtls.Identity{Namespace: "micro", Service: "proxy"}, time.Hour)
	if err != nil {
		t.Fatalf("IssueAt() = %v", err)
	}
	noURI := certWithoutIdentity(t, ca, proxy)

	storeID := mtls.Identity{Namespace: "micro", Service: "store"}
	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		ok     bool
	}{
		{"platform peers", store.ServerConfig(), proxy.ClientConfig(storeID), true},
		{"any service of namespace", store.ServerConfig(), proxy.ClientConfig(mtls.Identity{Namespace: "micro"}), true},
		{"no client certificate", store.ServerConfig(), mtls.ClientRootsConfig(store.Roots, "localhost"), false},
		{"client from foreign CA", store.ServerConfig(), impostor.ClientConfig(storeID), false},
		{"expired client certificate", store.ServerConfig(), expired.ClientConfig(storeID), false},
		{"client certificate without identity", store.ServerConfig(), noURI, false},
		{"server is another service", store.ServerConfig(), proxy.ClientConfig(mtls.Identity{Namespace: "micro", Service: "auth"}), false},
		{"server is in another namespace", store.ServerConfig(), proxy.ClientConfig(mtls.Identity{Namespace: "tenant-one"}), false},
		{"empty expectation", store.ServerConfig(), proxy.ClientConfig(mtls.Identity{}), false},
		{"server from foreign CA", impostor.ServerConfig(), proxy.ClientConfig(mtls.Identity{Namespace: "micro", Service: "proxy"}), false},
		{"TLS 1.2 client", store.ServerConfig(), tls12(proxy.ClientConfig(storeID)), false},
		{"public port", mtls.ServerOnlyConfig(proxy.Cert), mtls.ClientRootsConfig(ca.Pool(), "localhost"), true},
		{"public port wrong host name", mtls.ServerOnlyConfig(proxy.Cert), mtls.ClientRootsConfig(ca.Pool(), "example.com"), false},
		{"public port untrusted", mtls.ServerOnlyConfig(impostor.Cert), mtls.ClientRootsConfig(ca.Pool(), "localhost"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, results := tlsServer(t, tt.server)
			clientErr := talk(addr, tt.client)
			serverErr := serverResult(t, results)
			if tt.ok && (clientErr != nil || serverErr != nil) {
				t.Errorf("handshake = client %v, server %v, want both nil", clientErr, serverErr)
			}
			if !tt.ok && (clientErr == nil || serverErr == nil) {
				t.Errorf("handshake = client %v, server %v, want both to fail", clientErr, serverErr)
			}
		})
	}
}

func TestPlainTextClientRefused(t *testing.T) {
	store := mtlstest.Bundle(t, mtlstest.NewCA(t), "micro", "store")
	addr, results := tlsServer(t, store.ServerConfig())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("net.Dial() = %v", err)
	}
	defer conn.Close()
	conn.Write([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if err := serverResult(t, results); err == nil {
		t.Errorf("server handshake with plain-text client = nil, want error")
	}
	if got := string(buf[:n]); got == "ok\n" {
		t.Errorf("plain-text client read %q, want no greeting", got)
	}
}

func tls12(cfg *tls.Config) *tls.Config {
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	return cfg
}

// certWithoutIdentity returns a client configuration holding a certificate
// that ca signed but that carries no URI SAN, as a misconfigured issuer
// might produce.
func certWithoutIdentity(t *testing.T, ca *mtls.CA, keyFrom *mtls.Bundle) *tls.Config {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "nobody"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	pub := keyFrom.Cert.Leaf.PublicKey
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatalf("CreateCertificate() = %v", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: keyFrom.Cert.PrivateKey}
	cfg := keyFrom.ClientConfig(mtls.Identity{Namespace: "micro", Service: "store"})
	cfg.Certificates = []tls.Certificate{cert}
	return cfg
}
