package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"m3o.dev/services/internal/invalid"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Path
	}{
		{"empty is the whole document", "", Path{}},
		{"one segment", "db", Path{"db"}},
		{"dotted", "db.user.name", Path{"db", "user", "name"}},
		{"escaped dot", `a\.b`, Path{"a.b"}},
		{"escaped dot among segments", `x.a\.b.c`, Path{"x", "a.b", "c"}},
		{"escaped backslash", `a\\b`, Path{`a\b`}},
		{"escaped backslash before a dot", `a\\.b`, Path{`a\`, "b"}},
		{"digits are keys, not indices", "list.0", Path{"list", "0"}},
		{"unicode", "κλειδί.值", Path{"κλειδί", "值"}},
		{"spaces are kept", " a . b ", Path{" a ", " b "}},
		{"dollar keys other than the reserved one", "$secrets.$", Path{"$secrets", "$"}},
		{"at the segment limit", strings.Repeat("a.", MaxPathSegments-1) + "a", slices.Repeat(Path{"a"}, MaxPathSegments)},
		{"at the byte limit", strings.Repeat("a", MaxPathBytes), Path{strings.Repeat("a", MaxPathBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParsePath(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("ParsePath(%q).String() = %q, want %q", tt.in, s, tt.in)
			}
		})
	}
}

func TestParsePathInvalid(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason string
	}{
		{"leading dot", ".a", "empty segment"},
		{"trailing dot", "a.", "empty segment"},
		{"double dot", "a..b", "empty segment"},
		{"only a dot", ".", "empty segment"},
		{"trailing backslash", `a\`, "lone backslash"},
		{"escaped then trailing backslash", `a\\\`, "lone backslash"},
		{"unknown escape", `a\nb`, `escape "\n"`},
		{"escaped letter", `\a`, `escape "\a"`},
		{"too deep", strings.Repeat("a.", MaxPathSegments) + "a", "more than 32 segments"},
		{"too long", strings.Repeat("a", MaxPathBytes+1), "over the limit of 1024"},
		{"reserved key", "db.$secret", "reserved key"},
		{"control character", "a\nb", "control character"},
		{"delete character", "a\x7fb", "control character"},
		{"invalid UTF-8", "a\xffb", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			var ie *invalid.Error
			if !errors.As(err, &ie) || len(ie.Violations) != 1 || ie.Violations[0].Field != "path" || !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParsePath(%q) = %q, %v, want one violation of path", tt.in, got, err)
			}
			if d := ie.Violations[0].Description; !strings.Contains(d, tt.reason) {
				t.Errorf("ParsePath(%q) description = %q, want it to mention %q", tt.in, d, tt.reason)
			}
		})
	}
}

func TestPathOverlaps(t *testing.T) {
	tests := []struct {
		p, q string
		want bool
	}{
		{"", "a", true},
		{"a", "a", true},
		{"a", "a.b", true},
		{"a.b", "a", true},
		{"a.b", "a.c", false},
		{"a", "ab", false},
		{`a\.b`, "a.b", false},
	}
	for _, tt := range tests {
		t.Run(tt.p+"|"+tt.q, func(t *testing.T) {
			p, _ := ParsePath(tt.p)
			q, _ := ParsePath(tt.q)
			if got := p.Overlaps(q); got != tt.want {
				t.Errorf("ParsePath(%q).Overlaps(%q) = %v, want %v", tt.p, tt.q, got, tt.want)
			}
		})
	}
}

// FuzzParsePath checks that every path ParsePath accepts obeys the limits and
// prints back to exactly its input, and that every rejection is ErrInvalid.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"", "a", "db.user.name", `a\.b`, `a\\.b`, "a..b", `a\`, `a\x`, "$secret"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParsePath(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParsePath(%q) = %v, want an error matching ErrInvalid", in, err)
			}
			return
		}
		if len(p) > MaxPathSegments || len(in) > MaxPathBytes {
			t.Fatalf("ParsePath(%q) = %d segments from %d bytes, over the limits", in, len(p), len(in))
		}
		if slices.Contains(p, "") || slices.Contains(p, secretKey) {
			t.Fatalf("ParsePath(%q) = %q, want no empty or reserved segment", in, p)
		}
		if got := p.String(); got != in {
			t.Fatalf("ParsePath(%q).String() = %q, want %q", in, got, in)
		}
	})
}
