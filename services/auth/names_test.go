package auth_test

import (
	"regexp"
	"strings"
	"testing"

	"m3o.dev/pkg/platform"
	"m3o.dev/services/auth"
)

// TestNamespaceNames checks the words of generated names, and that the
// names are three of them, valid namespace names, and rarely the same.
func TestNamespaceNames(t *testing.T) {
	word := regexp.MustCompile(`^[a-z]{3,8}$`)
	for i, list := range auth.NameWords {
		seen := map[string]bool{}
		for _, w := range list {
			if !word.MatchString(w) || seen[w] {
				t.Errorf("word list %d: %q is not a new word of 3 to 8 lower-case letters", i, w)
			}
			seen[w] = true
		}
		if len(list) < 80 {
			t.Errorf("word list %d has %d words, want at least 80", i, len(list))
		}
	}
	names := map[string]bool{}
	for range 1000 {
		name, err := auth.NewNamespaceName()
		if err != nil || platform.ValidNamespace(name) != nil || len(strings.Split(name, "-")) != 3 {
			t.Fatalf("NewNamespaceName() = %q, %v, want three words making a valid namespace", name, err)
		}
		names[name] = true
	}
	if len(names) < 990 {
		t.Errorf("1000 names hold %d different ones, want nearly 1000", len(names))
	}
}
