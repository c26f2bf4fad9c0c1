package config

import (
	"slices"
	"testing"
)

// doc decodes a JSON object for a test, failing it on error.
func doc(t *testing.T, s string) map[string]any {
	t.Helper()
	d, err := decodeDocument([]byte(s))
	if err != nil {
		t.Fatalf("decodeDocument(%s) = %v", s, err)
	}
	return d
}

// text encodes a value for a test, failing it on error.
func text(t *testing.T, v any) string {
	t.Helper()
	b, err := encodeJSON(v)
	if err != nil {
		t.Fatalf("encodeJSON(%v) = %v", v, err)
	}
	return string(b)
}

// path parses a path for a test, failing it on error.
func path(t *testing.T, s string) Path {
	t.Helper()
	p, err := ParsePath(s)
	if err != nil {
		t.Fatalf("ParsePath(%q) = %v", s, err)
	}
	return p
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"object", `{"a":1}`, `{"a":1}`},
		{"number keeps its digits", `12345678901234567890`, `12345678901234567890`},
		{"string", `"x"`, `"x"`},
		{"bool", `true`, `true`},
		{"null", `null`, `null`},
		{"array", `[1,"a"]`, `[1,"a"]`},
		{"bare word is a string", `hello`, `"hello"`},
		{"empty is a string", ``, `""`},
		{"two values are a string", `1 2`, `"1 2"`},
		{"broken JSON is a string", `{"a":`, `"{\"a\":"`},
		{"URL is a string", `postgres://u@h/db?x=<1>&y`, `"postgres://u@h/db?x=<1>&y"`},
		{"white space around JSON is fine", " {\"a\": true}\n", `{"a":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := text(t, parseValue(tt.in)); got != tt.want {
				t.Errorf("parseValue(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestPut(t *testing.T) {
	tests := []struct {
		name, doc, path, value, want string
	}{
		{"into empty", `{}`, "a.b", `1`, `{"a":{"b":1}}`},
		{"object merges deeply", `{"db":{"host":"h","opts":{"ssl":true,"pool":5}}}`, "db", `{"opts":{"pool":10},"user":"u"}`,
			`{"db":{"host":"h","opts":{"pool":10,"ssl":true},"user":"u"}}`},
		{"scalar replaces object", `{"db":{"host":"h"}}`, "db", `"dsn"`, `{"db":"dsn"}`},
		{"object replaces scalar", `{"db":"dsn"}`, "db", `{"host":"h"}`, `{"db":{"host":"h"}}`},
		{"array replaces array", `{"a":[1,2,3]}`, "a", `[4]`, `{"a":[4]}`},
		{"path through a scalar makes an object", `{"a":"x"}`, "a.b", `1`, `{"a":{"b":1}}`},
		{"root merges", `{"a":1,"b":{"c":2}}`, "", `{"b":{"d":3}}`, `{"a":1,"b":{"c":2,"d":3}}`},
		{"null is a value", `{"a":1}`, "a", `null`, `{"a":null}`},
		{"escaped key", `{}`, `a\.b.c`, `1`, `{"a.b":{"c":1}}`},
		{"path through a secret replaces it", `{"a":{"$secret":{"kid":"k"}}}`, "a.b", `1`, `{"a":{"b":1}}`},
		{"object replaces a secret", `{"a":{"$secret":{"kid":"k"}}}`, "a", `{"b":1}`, `{"a":{"b":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := doc(t, tt.doc)
			put(d, path(t, tt.path), parseValue(tt.value))
			if got := text(t, d); got != tt.want {
				t.Errorf("put(%s, %q, %s) = %s, want %s", tt.doc, tt.path, tt.value, got, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	d := `{"a":{"b":[1,2]},"k":{"$secret":{"kid":"k"}},"s":"x"}`
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"", d, true},
		{"a", `{"b":[1,2]}`, true},
		{"a.b", `[1,2]`, true},
		{"a.b.0", ``, false},
		{"s.x", ``, false},
		{"missing", ``, false},
		{"k", `{"$secret":{"kid":"k"}}`, true},
		{"k.kid", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			v, ok := lookup(doc(t, d), path(t, tt.path))
			if ok != tt.ok || (ok && text(t, v) != tt.want) {
				t.Errorf("lookup(%q) = %v, %v, want %s, %v", tt.path, v, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	tests := []struct {
		name, doc, path, want string
		ok                    bool
	}{
		{"leaf", `{"a":{"b":1,"c":2}}`, "a.b", `{"a":{"c":2}}`, true},
		{"subtree", `{"a":{"b":{"c":1}},"d":1}`, "a", `{"d":1}`, true},
		{"root", `{"a":1}`, "", `{}`, true},
		{"missing", `{"a":1}`, "b", `{"a":1}`, false},
		{"under a scalar", `{"a":1}`, "a.b", `{"a":1}`, false},
		{"inside a secret", `{"a":{"$secret":{"kid":"k"}}}`, "a.$secret", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := doc(t, tt.doc)
			p, err := ParsePath(tt.path)
			if err != nil {
				// The reserved key cannot even be named.
				if tt.ok {
					t.Fatalf("ParsePath(%q) = %v", tt.path, err)
				}
				return
			}
			ok := remove(d, p)
			if ok != tt.ok || text(t, d) != tt.want {
				t.Errorf("remove(%s, %q) = %s, %v, want %s, %v", tt.doc, tt.path, text(t, d), ok, tt.want, tt.ok)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       []string
	}{
		{"equal", `{"a":{"b":1}}`, `{"a":{"b":1}}`, nil},
		{"changed leaf", `{"a":{"b":1,"c":2}}`, `{"a":{"b":2,"c":2}}`, []string{"a.b"}},
		{"added and removed", `{"a":1}`, `{"b":1}`, []string{"a", "b"}},
		{"object against scalar", `{"a":{"b":1}}`, `{"a":1}`, []string{"a"}},
		{"escaped key", `{"a.b":1}`, `{}`, []string{`a\.b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range diff(doc(t, tt.a), doc(t, tt.b), Path{}) {
				got = append(got, p.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("diff(%s, %s) = %q, want %q", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestHasReservedKey(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"a":1}`, false},
		{`{"$secret":1}`, true},
		{`{"a":{"b":{"$secret":{}}}}`, true},
		{`[{"$secret":1}]`, true},
		{`"$secret"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := hasReservedKey(parseValue(tt.in)); got != tt.want {
				t.Errorf("hasReservedKey(%s) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
