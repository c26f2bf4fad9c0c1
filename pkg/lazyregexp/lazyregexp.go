// Package lazyregexp holds regular expressions that compile on first use.
//
// Every package of the micro binary is initialised on every run of it,
// `micro env` included, and a package-level regexp.MustCompile pays its
// compilation then: a pattern with a bounded repeat such as {0,127}
// compiles to one instruction per repeat, thousands of allocations that
// slow the start of each command and can set off a garbage collection.
// A Regexp compiles when a request first needs it, and only in the process
// that does. Test binaries compile at once, so that a bad pattern still
// fails a package's tests rather than a later call.
package lazyregexp

import (
	"os"
	"regexp"
	"strings"
	"sync"
)

// Regexp is a regular expression compiled on first use.
type Regexp struct {
	str  string
	once sync.Once
	rx   *regexp.Regexp
}

// New returns a Regexp for str, which must compile as regexp.MustCompile
// requires; it panics on first use otherwise.
func New(str string) *Regexp {
	r := &Regexp{str: str}
	if inTest {
		r.re()
	}
	return r
}

// inTest reports whether this process is a test binary, as cmd/go's own
// lazyregexp tells: without importing package testing.
var inTest = len(os.Args) > 0 && strings.HasSuffix(strings.TrimSuffix(os.Args[0], ".exe"), ".test")

// re returns the compiled expression, compiling it the first time.
func (r *Regexp) re() *regexp.Regexp {
	r.once.Do(func() { r.rx = regexp.MustCompile(r.str) })
	return r.rx
}

// MatchString reports whether s contains any match of the expression.
func (r *Regexp) MatchString(s string) bool {
	return r.re().MatchString(s)
}

// FindStringSubmatch returns the leftmost match of the expression in s and
// its submatches, or nil when there is none.
func (r *Regexp) FindStringSubmatch(s string) []string {
	return r.re().FindStringSubmatch(s)
}

// String returns the source text of the expression, without compiling it.
func (r *Regexp) String() string {
	return r.str
}
