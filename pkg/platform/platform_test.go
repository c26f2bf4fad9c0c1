package platform

import (
	"errors"
	"regexp"
	"testing"
)

func TestValidNamespace(t *testing.T) {
	tests := []struct {
		ns   string
		want bool
	}{
		{"micro", true},
		{"brave-otter-lamp", true},
		{"a12", true},
		{"ab", false},
		{"1abc", false},
		{"-abc", false},
		{"Abc", false},
		{"ab_c", false},
		{"abcdefghijabcdefghijabcdefghijabcdefghij", true},
		{"abcdefghijabcdefghijabcdefghijabcdefghijk", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.ns, func(t *testing.T) {
			err := ValidNamespace(tt.ns)
			if (err == nil) != tt.want {
				t.Errorf("ValidNamespace(%q) = %v, want ok=%v", tt.ns, err, tt.want)
			}
			if err != nil && !errors.Is(err, ErrBadNamespace) {
				t.Errorf("ValidNamespace(%q) = %v, want it to wrap ErrBadNamespace", tt.ns, err)
			}
		})
	}
}

// FuzzValidNamespace checks the hand-written matcher against the pattern it
// stands for.
func FuzzValidNamespace(f *testing.F) {
	for _, s := range []string{"micro", "ab", "a-b-c", "Z12", "a\x00bc"} {
		f.Add(s)
	}
	re := regexp.MustCompile(NamespacePattern)
	f.Fuzz(func(t *testing.T, ns string) {
		if got, want := ValidNamespace(ns) == nil, re.MatchString(ns); got != want {
			t.Errorf("ValidNamespace(%q) ok = %v, pattern says %v", ns, got, want)
		}
	})
}

func TestServiceOfMethod(t *testing.T) {
	tests := []struct {
		method, want string
		ok           bool
	}{
		{"/m3o.store.v1.StoreService/Read", Store, true},
		{"/m3o.auth.v1.RulesService/List", Auth, true},
		{"/m3o.runtime.v1.RuntimeService/Create", Runtime, true},
		{"/m3o.storex.v1.S/M", "", false},
		{"/hello.Hello/Call", "", false},
	}
	for _, tt := range tests {
		got, ok := ServiceOfMethod(tt.method)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ServiceOfMethod(%q) = %q, %v, want %q, %v", tt.method, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDefaultAddressFollowsThePortTable(t *testing.T) {
	tests := map[string]string{
		Registry: "127.0.0.1:8082", Store: "127.0.0.1:8083", Auth: "127.0.0.1:8084",
		Config: "127.0.0.1:8085", Runtime: "127.0.0.1:8086", Billing: "127.0.0.1:8087",
		Proxy: "127.0.0.1:8081", "nope": "",
	}
	for name, want := range tests {
		if got := DefaultAddress(name); got != want {
			t.Errorf("DefaultAddress(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestSplitNotTaken(t *testing.T) {
	why := "# hello/handler\nhandler.go:3:1: undefined: x"
	gen, got, ok := SplitNotTaken(NotTaken(3, 2, why))
	if !ok || gen != 3 || got != why {
		t.Errorf("SplitNotTaken(NotTaken(3, 2, why)) = %d, %q, %v; want 3, why, true", gen, got, ok)
	}
	for _, other := range []string{"", "exit status 1", "generation 3 did not take", "generation x did not take, generation 2 still runs: y"} {
		if _, _, ok := SplitNotTaken(other); ok {
			t.Errorf("SplitNotTaken(%q) = ok, want not NotTaken's", other)
		}
	}
}

func TestIsSourceID(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"src-fxtzvvkvfcqe7rz7njupvqk76g", true},
		{"src-FXTZVVKVFCQE7RZ7NJUPVQK76G", false}, // the runtime writes lower case
		{"src-fxtzvvkvfcqe7rz7njupvqk76", false},  // one short
		{"src-fxtzvvkvfcqe7rz7njupvqk761", false}, // 1 is not base32
		{"https://github.com/you/src-fxtzvvkvfcqe7rz7njupvqk76g", false},
		{"./src-fxtzvvkvfcqe7rz7njupvqk76g", false},
	}
	for _, tt := range tests {
		if got := IsSourceID(tt.s); got != tt.want {
			t.Errorf("IsSourceID(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
