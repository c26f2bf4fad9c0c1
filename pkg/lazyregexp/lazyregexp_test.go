package lazyregexp

import (
	"fmt"
	"testing"
)

func TestMatchString(t *testing.T) {
	r := New(`^[a-z][a-z0-9-]{2,39}$`)
	tests := []struct {
		in   string
		want bool
	}{
		{"brave-otter-lamp", true},
		{"ab", false},
		{"Brave", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := r.MatchString(tt.in); got != tt.want {
			t.Errorf("MatchString(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFindStringSubmatch(t *testing.T) {
	r := New(`^(\w+)=(\d+)$`)
	if got := r.FindStringSubmatch("limit=10"); len(got) != 3 || got[1] != "limit" || got[2] != "10" {
		t.Errorf("FindStringSubmatch(limit=10) = %q, want [limit=10 limit 10]", got)
	}
	if got := r.FindStringSubmatch("limit"); got != nil {
		t.Errorf("FindStringSubmatch(limit) = %q, want nil", got)
	}
}

func TestString(t *testing.T) {
	r := New(`^a+$`)
	if got := fmt.Sprintf("must match %s", r); got != "must match ^a+$" {
		t.Errorf("formatted = %q, want the pattern's source", got)
	}
}

// TestBadPatternPanicsInTests checks that a test binary compiles at once,
// so that a typo in a package-level pattern fails that package's tests.
func TestBadPatternPanicsInTests(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(`(`) in a test binary did not panic, want a panic at once")
		}
	}()
	New(`(`)
}

// TestLazyOutsideTests checks that a pattern is not compiled before its
// first use when the process is not a test binary.
func TestLazyOutsideTests(t *testing.T) {
	defer func(was bool) { inTest = was }(inTest)
	inTest = false
	r := New(`^x{1,128}$`)
	if r.rx != nil {
		t.Fatal("New compiled the pattern outside a test binary, want it compiled on first use")
	}
	if !r.MatchString("xxx") || r.rx == nil {
		t.Error("MatchString(xxx) after a lazy New = false or left the pattern uncompiled")
	}
}
