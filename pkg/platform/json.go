package platform

import (
	"fmt"
	"strings"

	"m3o.dev/pkg/lazyregexp"
)

// protojsonError is how protojson words an error: a prefix (with a space
// or, in some builds, a non-breaking space), an optional "syntax error",
// the place, and the reason.
var protojsonError = lazyregexp.New(`^proto:[ \x{a0}](?:syntax error )?\(line (\d+):(\d+)\): (.*)$`)

// JSONReason rewords an error of protojson's Unmarshal for a person: the
// reason first and its place after, as in `unknown field "nom" (line 1,
// column 2)`, without protojson's prefix.
func JSONReason(err error) string {
	msg := err.Error()
	if m := protojsonError.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s (line %s, column %s)", m[3], m[1], m[2])
	}
	msg = strings.TrimLeft(strings.TrimPrefix(msg, "proto:"), " \u00a0")
	if msg == "unexpected EOF" {
		return "the JSON ends too soon"
	}
	return msg
}
