package build

import (
	"bytes"
	"strings"
)

// placeholderVersion stands in for whatever version a go.mod requires of
// an SDK module. The replace directive ignores it; it only has to be a
// version the go command accepts, which the developer's may not be (a
// v9.9.9 of a module path without /v9 does not parse).
const placeholderVersion = "v0.0.0-00010101000000-000000000000"

// pinSDKRequires rewrites the go.mod's requirements of the SDK modules to
// the placeholder version and returns the versions they asked for. It
// reads the two forms a require takes, a single line and a block; a
// require the go command would not parse anyway is left for it to
// report.
func pinSDKRequires(mod []byte) ([]byte, map[string]string) {
	asked := map[string]string{}
	lines := bytes.Split(mod, []byte("\n"))
	inBlock := false
	for i, raw := range lines {
		line := string(raw)
		fields := strings.Fields(stripComment(line))
		switch {
		case len(fields) == 2 && fields[0] == "require" && fields[1] == "(":
			inBlock = true
		case inBlock && len(fields) == 1 && fields[0] == ")":
			inBlock = false
		case inBlock && len(fields) == 2:
			lines[i] = pinLine(line, fields, 0, asked)
		case len(fields) == 3 && fields[0] == "require":
			lines[i] = pinLine(line, fields, 1, asked)
		}
	}
	return bytes.Join(lines, []byte("\n")), asked
}

// pinLine rewrites one requirement, whose module path is fields[at], when
// it names an SDK module.
func pinLine(line string, fields []string, at int, asked map[string]string) []byte {
	path := strings.Trim(fields[at], `"`)
	if !isSDK(path) {
		return []byte(line)
	}
	asked[path] = fields[at+1]
	prefix := ""
	if at == 1 {
		prefix = "require "
	}
	comment := ""
	if i := strings.Index(line, "//"); i >= 0 {
		comment = " " + line[i:]
	}
	return []byte("\t" + prefix + path + " " + placeholderVersion + comment)
}

// stripComment drops a line's // comment.
func stripComment(line string) string {
	if i := strings.Index(line, "//"); i >= 0 {
		return line[:i]
	}
	return line
}
