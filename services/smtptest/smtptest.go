// Package smtptest runs a real SMTP server in process for tests
// (emersion/go-smtp): it offers STARTTLS with a certificate of its own,
// requires AUTH PLAIN before it takes mail, and keeps every message in a
// mailbox the test reads, such as to find a sign-up code.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The credentials the server accepts.
const (
	Username = "m3o-test"
	Password = "m3o-test-password"
)

// waitTimeout bounds WaitFor: long past any delivery on this machine.
const waitTimeout = time.Minute

// Message is one message the server took.
type Message struct {
	// From is the envelope sender and To the envelope recipients.
	From string
	To   []string
	// Data is the message as sent: headers and body.
	Data []byte
	// TLS is true when it arrived over STARTTLS.
	TLS bool
}

// Header returns a header of the message, decoded.
func (m Message) Header(name string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	if decoded, err := new(mimeDecoder).DecodeHeader(v); err == nil {
		return decoded
	}
	return v
}

// Text returns the body, decoded from quoted-printable when it is.
func (m Message) Text() string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	data, _ := io.ReadAll(body)
	return strings.ReplaceAll(string(data), "\r\n", "\n")
}

// Server is an SMTP server running until the test ends.
type Server struct {
	// Addr is where it listens, 127.0.0.1:port.
	Addr string
	// ClientTLS trusts the server's certificate, for the sender's
	// STARTTLS.
	ClientTLS *tls.Config
	// CertPEM is the server's self-signed certificate, PEM, for a sender
	// in another process to trust from a file.
	CertPEM []byte

	mu       sync.Mutex
	messages []Message
	arrived  chan struct{}
}

// Start runs a server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	cert, pool := certificate(t)
	s := &Server{
		ClientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
		CertPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		arrived:   make(chan struct{}),
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.MaxMessageBytes = 1 << 20
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = lis.Addr().String()
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages returns every message taken so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitFor returns the first message to the recipient to, waiting for it
// to arrive; the test fails if none does.
func (s *Server) WaitFor(t testing.TB, to string) Message {
	t.Helper()
	m, _ := s.WaitForMatch(t, to, nil)
	return m
}

// WaitForMatch returns the first message to the recipient to whose text
// pattern matches, and the match's submatches, waiting for it to arrive;
// the test fails if none does. A nil pattern matches any message.
func (s *Server) WaitForMatch(t testing.TB, to string, pattern *regexp.Regexp) (Message, []string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		s.mu.Lock()
		arrived, messages := s.arrived, s.messages
		s.mu.Unlock()
		for _, m := range messages {
			if !slices.ContainsFunc(m.To, func(rcpt string) bool { return strings.EqualFold(rcpt, to) }) {
				continue
			}
			if pattern == nil {
				return m, nil
			}
			if found := pattern.FindStringSubmatch(m.Text()); found != nil {
				return m, found
			}
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("no mail to %s matching %v after %s", to, pattern, waitTimeout)
		}
	}
}

func (s *Server) keep(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session is one SMTP conversation: it takes mail only after AUTH PLAIN
// with the test credentials, which go-smtp allows only over TLS.
type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	msg    Message
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != Username || password != Password {
			return errors.New("invalid credentials")
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if !se.authed {
		return errAuthRequired
	}
	_, isTLS := se.conn.TLSConnectionState()
	se.msg = Message{From: from, TLS: isTLS}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.msg.To = append(se.msg.To, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.msg.Data = data
	se.s.keep(se.msg)
	return nil
}

func (se *session) Reset()        { se.msg = Message{} }
func (se *session) Logout() error { return nil }

// certificate makes a self-signed certificate for 127.0.0.1 and
// localhost, and a pool that trusts it.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// mimeDecoder decodes RFC 2047 encoded words in headers.
type mimeDecoder = mime.WordDecoder
