// Package logging builds the platform's slog loggers, with secrets masked
// before anything reaches the output.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Redacted replaces the value of every sensitive attribute.
const Redacted = "[redacted]"

// sensitiveWords mark a key as secret wherever they appear in it, so that
// password, admin_password, refresh_token and X-Api-Key are all caught.
// Matching parts of words over-redacts now and then (token_count), which is
// the safe way to be wrong.
var sensitiveWords = []string{
	"password", "passwd", "secret", "token", "authorization", "cookie",
	"credential", "private_key", "privatekey", "api_key", "apikey", "signature",
}

// New returns a logger writing to w in format "json" or "text" (empty means
// json) at level "debug", "info", "warn" or "error" (empty means info; an
// offset such as "info+2" also works), with Redact installed.
func New(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
		}
	}
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: Redact}
	switch format {
	case "json", "":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want json or text", format)
	}
}

// Redact is a slog.HandlerOptions.ReplaceAttr function that masks the value
// of any attribute whose key, or the name of any group it sits in, is
// sensitive. It is a last line of defence: code should not log secrets in
// the first place.
func Redact(groups []string, a slog.Attr) slog.Attr {
	if IsSensitive(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	for _, g := range groups {
		if IsSensitive(g) {
			return slog.String(a.Key, Redacted)
		}
	}
	return a
}

// IsSensitive reports whether an attribute key names a secret. Case, dashes
// and dots are ignored, so Authorization, x-api-key and db.password match.
func IsSensitive(key string) bool {
	k := strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToLower(key))
	for _, w := range sensitiveWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
