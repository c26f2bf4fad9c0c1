package mail_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"m3o.dev/services/internal/mail"
	"m3o.dev/services/smtptest"
)

var code = mail.Message{To: "ann@example.com", Subject: "Your M3O sign-up code: é", Text: "Your code is 12345678.\nIt expires in 60 minutes.\n"}

func newSMTP(t *testing.T, srv *smtptest.Server, password string) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.SMTPConfig{
		Address: srv.Addr, From: "no-reply@m3o.test", Username: smtptest.Username, Password: password, TLS: srv.ClientTLS,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSMTPDelivers sends through a real SMTP server: over STARTTLS, after
// AUTH PLAIN, with the subject and the body intact.
func TestSMTPDelivers(t *testing.T) {
	srv := smtptest.Start(t)
	if err := newSMTP(t, srv, smtptest.Password).Send(t.Context(), code); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	got := srv.WaitFor(t, "ann@example.com")
	if !got.TLS || got.From != "no-reply@m3o.test" {
		t.Errorf("message arrived with TLS=%v from %q, want TLS from no-reply@m3o.test", got.TLS, got.From)
	}
	if s := got.Header("Subject"); s != code.Subject {
		t.Errorf("Subject = %q, want %q", s, code.Subject)
	}
	if !strings.Contains(got.Text(), "Your code is 12345678.") {
		t.Errorf("body = %q, want the code", got.Text())
	}
}

func TestSMTPRefuses(t *testing.T) {
	srv := smtptest.Start(t)
	plain := plainServer(t)
	closed := closedPort(t)
	tests := []struct {
		name, addr, password string
		unavailable          bool
	}{
		{"wrong password", srv.Addr, "not-the-password", false},
		{"no STARTTLS", plain, smtptest.Password, false},
		{"nobody listening", closed, smtptest.Password, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mail.NewSMTP(mail.SMTPConfig{Address: tt.addr, From: "no-reply@m3o.test", Username: smtptest.Username, Password: tt.password, TLS: srv.ClientTLS})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(t.Context(), code)
			if err == nil || errors.Is(err, mail.ErrUnavailable) != tt.unavailable {
				t.Errorf("Send() = %v, want an error (unavailable: %v)", err, tt.unavailable)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("the server took %d messages, want none", n)
	}
}

// plainServer is an SMTP server that offers no STARTTLS.
func plainServer(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return nil, errors.New("no") }))
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return lis.Addr().String()
}

func closedPort(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// TestOutbox checks that without a server each message is a private .eml
// file named for the time and the recipient.
func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	sender, where, err := mail.New(mail.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(where, filepath.Join(dir, "outbox")) {
		t.Errorf("New() says %q, want it to name the outbox", where)
	}
	if err := sender.Send(t.Context(), code); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
	if len(files) != 1 || !regexp.MustCompile(`/\d{8}T\d{6}\.\d{9}Z-ann@example\.com\.eml$`).MatchString(files[0]) {
		t.Fatalf("outbox holds %v, want one <UTC timestamp>-ann@example.com.eml", files)
	}
	info, _ := os.Stat(files[0])
	data, _ := os.ReadFile(files[0])
	if info.Mode().Perm() != 0o600 || !strings.Contains(string(data), "12345678") {
		t.Errorf("%s: mode %v, content %q, want 0600 holding the message", files[0], info.Mode().Perm(), data)
	}
}

// TestBadMessages checks that what would break the headers is refused.
func TestBadMessages(t *testing.T) {
	sender, _, err := mail.New(mail.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []mail.Message{
		{To: "ann@example.com", Subject: "hi\r\nBcc: eve@example.com", Text: "x"},
		{To: "Ann <ann@example.com>", Subject: "hi", Text: "x"},
		{To: "ann@example.com\r\nRCPT TO:<eve@example.com>", Subject: "hi", Text: "x"},
	} {
		if err := sender.Send(t.Context(), msg); !errors.Is(err, mail.ErrInvalid) {
			t.Errorf("Send(%q, %q) = %v, want ErrInvalid", msg.To, msg.Subject, err)
		}
	}
}

// TestCAFile checks that a server whose certificate only a CA file trusts
// is reached through that file, and refused without it.
func TestCAFile(t *testing.T) {
	srv := smtptest.Start(t)
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	smtpCfg := mail.SMTPConfig{Address: srv.Addr, From: "no-reply@m3o.test", Username: smtptest.Username, Password: smtptest.Password}
	tests := []struct {
		name    string
		caFile  string
		wantErr bool
	}{
		{"trusted through the file", caFile, false},
		{"system roots only", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sender, _, err := mail.New(mail.Config{SMTP: smtpCfg, CAFile: tt.caFile})
			if err != nil {
				t.Fatal(err)
			}
			if err := sender.Send(t.Context(), code); (err != nil) != tt.wantErr {
				t.Errorf("Send() = %v, want an error: %v", err, tt.wantErr)
			}
		})
	}
	if got := srv.WaitFor(t, code.To); !got.TLS {
		t.Errorf("message arrived without TLS")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("the server took %d messages, want the trusted one only", n)
	}
	if _, _, err := mail.New(mail.Config{SMTP: smtpCfg, CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Error("New(missing CA file) = nil, want an error")
	}
}
