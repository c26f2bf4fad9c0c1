package source

import (
	"path"
	"strings"
)

// ignoreRule is one line of a .gitignore.
type ignoreRule struct {
	negate  bool
	dirOnly bool
	parts   []string
}

// ignoreList holds a .gitignore's rules in file order; the last rule that
// matches a path decides, as in git. Pack's documentation lists the
// patterns it understands.
type ignoreList []ignoreRule

// parseGitignore reads the rules of a .gitignore file.
func parseGitignore(data string) ignoreList {
	var list ignoreList
	for _, line := range strings.Split(data, "\n") {
		if r, ok := parseIgnoreLine(line); ok {
			list = append(list, r)
		}
	}
	return list
}

// parseIgnoreLine turns one line into a rule, or reports false for blank
// lines and comments.
func parseIgnoreLine(line string) (ignoreRule, bool) {
	line = strings.TrimRight(line, " \t\r")
	if line == "" || strings.HasPrefix(line, "#") {
		return ignoreRule{}, false
	}
	var r ignoreRule
	if strings.HasPrefix(line, "!") {
		r.negate, line = true, line[1:]
	} else if strings.HasPrefix(line, `\!`) || strings.HasPrefix(line, `\#`) {
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		r.dirOnly, line = true, strings.TrimRight(line, "/")
	}
	if line == "" {
		return ignoreRule{}, false
	}
	if !strings.Contains(line, "/") {
		line = "**/" + line
	}
	r.parts = strings.Split(strings.TrimPrefix(line, "/"), "/")
	return r, true
}

// ignored reports whether rel, a slash-separated path relative to the
// folder's root, is ignored.
func (l ignoreList) ignored(rel string, isDir bool) bool {
	ignore := false
	elems := strings.Split(rel, "/")
	for _, r := range l {
		if r.dirOnly && !isDir {
			continue
		}
		if matchParts(r.parts, elems) {
			ignore = !r.negate
		}
	}
	return ignore
}

// matchParts matches path elements against pattern elements, where "**"
// stands for any number of elements (at least one when it ends the
// pattern, since "dir/**" means what is inside dir).
func matchParts(pat, elems []string) bool {
	if len(pat) == 0 {
		return len(elems) == 0
	}
	if pat[0] == "**" {
		if len(pat) == 1 {
			return len(elems) > 0
		}
		for i := 0; i <= len(elems); i++ {
			if matchParts(pat[1:], elems[i:]) {
				return true
			}
		}
		return false
	}
	if len(elems) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], elems[0])
	return ok && err == nil && matchParts(pat[1:], elems[1:])
}
