package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Outbox writes each message to a directory instead of sending it:
// <dir>/<UTC timestamp>-<recipient>.eml, readable only by the owner, for a
// platform with no mail server, where the person running it reads the
// codes from there.
type Outbox struct {
	dir  string
	from string
	now  func() time.Time
}

var _ Sender = (*Outbox)(nil)

// NewOutbox returns a Sender that writes to dir, creating it (mode 0700)
// when needed.
func NewOutbox(dir, from string) (*Outbox, error) {
	if err := check(from, Message{To: from}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox: %w", err)
	}
	return &Outbox{dir: dir, from: from, now: time.Now}, nil
}

// Dir is the directory messages are written to.
func (o *Outbox) Dir() string { return o.dir }

// Send implements Sender.
func (o *Outbox) Send(_ context.Context, msg Message) error {
	now := o.now().UTC()
	data, err := compose(o.from, msg, now)
	if err != nil {
		return err
	}
	name := now.Format("20060102T150405.000000000Z") + "-" + fileSafe(msg.To) + ".eml"
	f, err := os.OpenFile(filepath.Join(o.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write to the outbox: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write to the outbox: %w", err)
	}
	return f.Close()
}

// fileSafe keeps the characters of an address that are safe in a file
// name, replacing the others with '_'.
func fileSafe(addr string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._+-", r) {
			return r
		}
		return '_'
	}, addr)
}
