package config

import (
	"strings"
	"unicode/utf8"

	"m3o.dev/services/internal/invalid"
)

// Path addresses a value in a namespace's document: one object key per
// segment, from the root down. The empty Path is the whole document.
//
// A segment is always an object key, never an array index: "a.0" is the key
// "0" of the object at "a". Arrays are values like any other and are read,
// set and deleted whole.
type Path []string

// ParsePath parses the dotted form of a path, such as "db.user.name".
//
// A dot separates segments; a key that holds a dot or a backslash writes it
// with a backslash before it, so "a\.b" is the single key "a.b" and "a\\b" the
// key `a\b`. Any other escape, a trailing backslash, an empty segment, a
// segment equal to the reserved key "$secret", an ASCII control character,
// invalid UTF-8, more than
// MaxPathSegments segments or more than MaxPathBytes bytes is an error
// matching ErrInvalid. The empty string is the whole document.
func ParsePath(s string) (Path, error) {
	if len(s) > MaxPathBytes {
		return nil, pathError("is %d bytes, over the limit of %d", len(s), MaxPathBytes)
	}
	if !utf8.ValidString(s) {
		return nil, pathError("is not valid UTF-8")
	}
	if s == "" {
		return Path{}, nil
	}
	var (
		p   Path
		seg strings.Builder
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return nil, pathError("ends in a lone backslash")
			}
			if next := s[i+1]; next != '.' && next != '\\' {
				return nil, pathError(`has the escape "\%c" at byte %d; only "\." and "\\" are allowed`, next, i)
			}
			i++
			seg.WriteByte(s[i])
		case '.':
			if err := p.push(seg.String()); err != nil {
				return nil, err
			}
			seg.Reset()
		default:
			if c < 0x20 || c == 0x7f {
				return nil, pathError("has the control character %#02x at byte %d", c, i)
			}
			seg.WriteByte(c)
		}
	}
	if err := p.push(seg.String()); err != nil {
		return nil, err
	}
	return p, nil
}

// push appends one parsed segment, enforcing the rules on segments.
func (p *Path) push(seg string) error {
	switch {
	case seg == "":
		return pathError("has an empty segment, number %d: two dots in a row, or a dot at an end", len(*p)+1)
	case seg == secretKey:
		return pathError("uses the reserved key %q", secretKey)
	case len(*p) == MaxPathSegments:
		return pathError("has more than %d segments", MaxPathSegments)
	}
	*p = append(*p, seg)
	return nil
}

// pathError describes what is wrong with a path as a violation of "path".
func pathError(format string, args ...any) error {
	return invalid.Field("path", format, args...)
}

// String returns the dotted form of the path, escaping dots and backslashes
// in keys; ParsePath(p.String()) gives p back.
func (p Path) String() string {
	var b strings.Builder
	for i, seg := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		for j := 0; j < len(seg); j++ {
			if seg[j] == '.' || seg[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(seg[j])
		}
	}
	return b.String()
}

// Contains reports whether q is p or lies under it.
func (p Path) Contains(q Path) bool {
	if len(q) < len(p) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// Overlaps reports whether a change at p and a change at q can touch the same
// value: one of them contains the other.
func (p Path) Overlaps(q Path) bool {
	return p.Contains(q) || q.Contains(p)
}
