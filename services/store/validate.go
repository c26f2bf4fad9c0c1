package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	storev1 "m3o.dev/proto/m3o/store/v1"
	"m3o.dev/services/internal/invalid"
)

// Limits on what a request may carry.
const (
	// MaxKeyBytes is the longest key, in bytes of UTF-8.
	MaxKeyBytes = 512
	// MaxValueBytes is the largest value: 1 MiB.
	MaxValueBytes = 1 << 20
	// MaxMetadataPairs is the most metadata pairs a record may have.
	MaxMetadataPairs = 32
	// MaxMetadataBytes bounds the bytes of all metadata keys and values.
	MaxMetadataBytes = 4 << 10
	// MaxExpiry is how far ahead a record may be set to expire. It keeps
	// expiry times in the range every backend can represent.
	MaxExpiry = 100 * 365 * 24 * time.Hour

	// DefaultTable is the table of a request that names none.
	DefaultTable = "default"
	// DefaultReadLimit and MaxReadLimit bound the records of one Read.
	DefaultReadLimit, MaxReadLimit = 100, 1000
	// DefaultListLimit and MaxListLimit bound the keys of one List.
	DefaultListLimit, MaxListLimit = 1000, 10000
)

// checker collects the violations of a request, with the store's own
// field checks on top of invalid.Checker.
type checker struct{ invalid.Checker }

// ValidateName checks a database or table name.
func ValidateName(name string) error {
	if !validName(name) {
		return fmt.Errorf("name %q must be 1 to 63 lower-case letters, digits, dashes or underscores, starting with a letter or a digit", name)
	}
	return nil
}

// validName reports whether name is a database or table name, one that
// matches ^_?[a-z0-9][a-z0-9_-]{0,62}$, where a leading "_" marks a system
// database. It checks without a regular expression, which would cost more
// than the rest of a read's checks together.
func validName(name string) bool {
	name = strings.TrimPrefix(name, "_")
	if name == "" || len(name) > 63 || name[0] == '_' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateKey checks a record key: 1 to MaxKeyBytes bytes of UTF-8 without NUL.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("key is empty")
	}
	return validateKeyPart(key)
}

// validateKeyPart checks a prefix or suffix of keys, which may be empty.
func validateKeyPart(s string) error {
	switch {
	case len(s) > MaxKeyBytes:
		return fmt.Errorf("%d bytes is longer than %d", len(s), MaxKeyBytes)
	case !utf8.ValidString(s):
		return fmt.Errorf("not valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("contains NUL")
	}
	return nil
}

// checkName checks the database or table name in field.
func (c *checker) checkName(field, name string) {
	if err := ValidateName(name); err != nil {
		c.Addf(field, "%v", err)
	}
}

// checkKey checks a key in field; a key part (prefix or suffix) may be empty.
func (c *checker) checkKey(field, key string, part bool) {
	check := ValidateKey
	if part {
		check = validateKeyPart
	}
	if err := check(key); err != nil {
		c.Addf(field, "%v", err)
	}
}

// checkRecord checks the record of a write.
func (c *checker) checkRecord(rec *storev1.Record) {
	if rec == nil {
		c.Addf("record", "is required")
		return
	}
	c.checkKey("record.key", rec.GetKey(), false)
	if n := len(rec.GetValue()); n > MaxValueBytes {
		c.Addf("record.value", "%d bytes is larger than %d", n, MaxValueBytes)
	}
	md := rec.GetMetadata()
	if len(md) > MaxMetadataPairs {
		c.Addf("record.metadata", "%d pairs is more than %d", len(md), MaxMetadataPairs)
	}
	size := 0
	for k, v := range md {
		size += len(k) + len(v)
		if k == "" {
			c.Addf("record.metadata", "has an empty key")
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			c.Addf("record.metadata", "is not valid UTF-8")
		}
	}
	if size > MaxMetadataBytes {
		c.Addf("record.metadata", "%d bytes is more than %d", size, MaxMetadataBytes)
	}
}

// checkLimit checks a page size and returns it with the default applied.
func (c *checker) checkLimit(field string, limit uint32, def, max int) int {
	switch {
	case limit == 0:
		return def
	case int(limit) > max:
		c.Addf(field, "%d is more than %d", limit, max)
	}
	return int(limit)
}

// checkOrder checks an order and reports whether it is descending.
func (c *checker) checkOrder(o storev1.Order) bool {
	switch o {
	case storev1.Order_ORDER_UNSPECIFIED, storev1.Order_ORDER_ASC:
		return false
	case storev1.Order_ORDER_DESC:
		return true
	}
	c.Addf("order", "%d is not a known order", o)
	return false
}

// checkExpiry checks the ttl and expires_at of a write and returns the
// expiry they ask for, zero for never. Backends keep microseconds, so it is
// rounded up to one: a record never expires before it was asked to.
func (c *checker) checkExpiry(ttl *durationpb.Duration, at *timestamppb.Timestamp, now time.Time) time.Time {
	var expires time.Time
	switch {
	case ttl != nil && at != nil:
		c.Addf("ttl", "cannot be set together with expires_at")
	case ttl != nil:
		d := ttl.AsDuration()
		if err := ttl.CheckValid(); err != nil || d <= 0 || d > MaxExpiry {
			c.Addf("ttl", "must be positive and at most %v", MaxExpiry)
			return time.Time{}
		}
		expires = now.Add(d)
	case at != nil:
		expires = at.AsTime()
		if err := at.CheckValid(); err != nil || !expires.After(now) || expires.Sub(now) > MaxExpiry {
			c.Addf("expires_at", "must be in the future and at most %v ahead", MaxExpiry)
			return time.Time{}
		}
	default:
		return time.Time{}
	}
	if t := expires.Truncate(time.Microsecond); t.Before(expires) {
		expires = t.Add(time.Microsecond)
	}
	return expires
}
