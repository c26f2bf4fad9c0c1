package mtls

import "time"

// IssueAt issues a certificate as if the clock read now, so that tests can
// hold certificates that have already expired.
func IssueAt(ca *CA, now time.Time, id Identity, validity time.Duration) (*Bundle, error) {
	c := *ca
	c.now = func() time.Time { return now }
	return c.Issue(id, []string{"127.0.0.1"}, validity)
}
