package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"time"
)

// ErrUnavailable means the SMTP server could not be reached or refused
// the message for now; the caller may retry.
var ErrUnavailable = errors.New("mail server unavailable")

// SMTPConfig is how to reach an SMTP server.
type SMTPConfig struct {
	// Address is the server's host:port, usually port 587.
	Address string
	// From is the sender's address.
	From string
	// Username and Password authenticate with AUTH PLAIN, which is only
	// ever sent after STARTTLS; empty sends none.
	Username, Password string
	// TLS configures STARTTLS; nil verifies the server's certificate
	// against the system's roots for the address's host.
	TLS *tls.Config
	// Timeout bounds one delivery when the context has no deadline; 0 is
	// 30 seconds.
	Timeout time.Duration
}

// SMTP delivers messages through an SMTP server. It always upgrades the
// connection with STARTTLS and refuses a server that cannot: the messages
// carry sign-up codes.
type SMTP struct {
	cfg  SMTPConfig
	host string
}

var _ Sender = (*SMTP)(nil)

// NewSMTP returns a Sender through the server cfg names.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q is not host:port", cfg.Address)
	}
	if err := check(cfg.From, Message{To: cfg.From}); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTP{cfg: cfg, host: host}, nil
}

// Send implements Sender.
func (s *SMTP) Send(ctx context.Context, msg Message) error {
	data, err := compose(s.cfg.From, msg, time.Now())
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
	}
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.deliver(c, msg.To, data); err != nil {
		return err
	}
	return c.Quit()
}

// dial connects, greets, upgrades to TLS and authenticates.
func (s *SMTP) dial(ctx context.Context) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w: %w", s.cfg.Address, ErrUnavailable, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("greet %s: %w: %w", s.cfg.Address, ErrUnavailable, err)
	}
	if err := s.secure(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// secure upgrades the session with STARTTLS and authenticates over it.
func (s *SMTP) secure(c *smtp.Client) error {
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return fmt.Errorf("%s does not offer STARTTLS: refusing to send in the clear", s.cfg.Address)
	}
	cfg := s.cfg.TLS.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.host
	}
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	if err := c.StartTLS(cfg); err != nil {
		return fmt.Errorf("STARTTLS with %s: %w", s.cfg.Address, err)
	}
	if s.cfg.Username == "" {
		return nil
	}
	if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
		return fmt.Errorf("authenticate to %s as %s: %w", s.cfg.Address, s.cfg.Username, err)
	}
	return nil
}

// deliver sends one message's envelope and data.
func (s *SMTP) deliver(c *smtp.Client, to string, data []byte) error {
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", transient(err))
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", transient(err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", transient(err))
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return fmt.Errorf("write message: %w: %w", ErrUnavailable, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of message: %w", transient(err))
	}
	return nil
}

// transient marks a 4xx answer, which a later try may get past, as
// ErrUnavailable.
func transient(err error) error {
	var reply *textproto.Error
	if errors.As(err, &reply) && reply.Code >= 400 && reply.Code < 500 {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}
