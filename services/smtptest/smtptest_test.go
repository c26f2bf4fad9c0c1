package smtptest_test

import (
	"net/smtp"
	"strings"
	"testing"

	"m3o.dev/services/smtptest"
)

// TestMailboxNeedsTLSAndAuth talks to the server with net/smtp: no mail
// is taken before AUTH, and mail sent after STARTTLS and AUTH PLAIN lands
// in the mailbox.
func TestMailboxNeedsTLSAndAuth(t *testing.T) {
	srv := smtptest.Start(t)
	c, err := smtp.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(srv.ClientTLS); err != nil {
		t.Fatalf("STARTTLS = %v", err)
	}
	if err := c.Mail("a@example.com"); err == nil {
		t.Fatal("MAIL before AUTH = nil, want refused")
	}
	if err := c.Auth(smtp.PlainAuth("", smtptest.Username, smtptest.Password, "127.0.0.1")); err != nil {
		t.Fatalf("AUTH PLAIN = %v", err)
	}
	if err := smtpSend(c, "a@example.com", "b@example.com", "Subject: hi\r\n\r\ncode 123\r\n"); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, "b@example.com")
	if got.Header("Subject") != "hi" || !strings.Contains(got.Text(), "code 123") || !got.TLS {
		t.Errorf("mailbox holds %+v, want the message over TLS", got)
	}
}

func smtpSend(c *smtp.Client, from, to, data string) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	return w.Close()
}
