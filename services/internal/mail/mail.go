// Package mail sends the platform's email: sign-up codes today. A Sender
// either delivers through an SMTP server, with STARTTLS and
// authentication, or, when no server is configured (`micro server` on a
// laptop), writes each message to an outbox directory as an .eml file a
// person can open.
//
// A message's body never reaches a log: it may hold a one-time code.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// ErrInvalid is wrapped by the errors of a message that cannot be sent as
// it is: a bad address, or a header with a line break in it.
var ErrInvalid = errors.New("invalid message")

// Message is one plain-text email.
type Message struct {
	// To is the recipient's address, such as ann@example.com.
	To string
	// Subject is the subject line, one line of text.
	Subject string
	// Text is the body, plain text.
	Text string
}

// Sender delivers messages.
type Sender interface {
	// Send delivers msg, or returns why it could not.
	Send(ctx context.Context, msg Message) error
}

// compose returns msg as an RFC 5322 message from from, with a date and a
// message id, its body in quoted-printable UTF-8.
func compose(from string, msg Message, now time.Time) ([]byte, error) {
	if err := check(from, msg); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", msg.To)
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+strings.ToLower(rand.Text())+"@"+domain(from)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(msg.Text, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// check refuses what would break the message's headers or its envelope.
func check(from string, msg Message) error {
	for _, a := range []struct{ name, addr string }{{"from", from}, {"to", msg.To}} {
		if parsed, err := mail.ParseAddress(a.addr); err != nil || parsed.Address != a.addr {
			return fmt.Errorf("%s address %q is not a plain address: %w", a.name, a.addr, ErrInvalid)
		}
	}
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return fmt.Errorf("the subject holds a line break: %w", ErrInvalid)
	}
	return nil
}

// domain is the part of an address after the @.
func domain(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}
