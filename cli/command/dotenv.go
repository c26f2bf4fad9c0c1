package command

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
)

// maxEnvFile bounds an --env-file: the runtime takes far less environment
// than this, so a larger file is a mistake, such as a binary named.
const maxEnvFile = 1 << 20

// readEnvFile reads an --env-file: KEY=VALUE lines as a .env file holds
// them, with blank lines and # comments skipped, an optional "export "
// before the key, and a value in matching single or double quotes taken
// without them. A line that is none of these is a usage error naming it.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("--env-file %s does not exist.", path)
	case err != nil:
		return nil, usageErrorf("Cannot read --env-file %s: %s.", path, rootCause(err))
	case len(data) > maxEnvFile:
		return nil, usageErrorf("--env-file %s is larger than %s; it should hold KEY=VALUE lines.", path, size(maxEnvFile))
	}
	env := map[string]string{}
	lines := bufio.NewScanner(bytes.NewReader(data))
	lines.Buffer(nil, maxEnvFile)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, usageErrorf("--env-file %s, line %d: %q must be KEY=VALUE.", path, n, line)
		}
		env[k] = unquote(strings.TrimSpace(v))
	}
	if err := lines.Err(); err != nil {
		return nil, usageErrorf("Cannot read --env-file %s: %s.", path, err)
	}
	return env, nil
}

// unquote returns v without the matching quotes around it, if any.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
