package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"m3o.dev/pkg/logging"
)

func TestNew(t *testing.T) {
	tests := []struct {
		format, level string
		ok            bool
		debug         bool
		json          bool
	}{
		{"json", "info", true, false, true},
		{"text", "debug", true, true, false},
		{"", "", true, false, true},
		{"json", "WARN", true, false, true},
		{"xml", "info", false, false, false},
		{"json", "loud", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := logging.New(&buf, tt.format, tt.level)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%q, %q) = %v, want ok %v", tt.format, tt.level, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if got := l.Enabled(t.Context(), slog.LevelDebug); got != tt.debug {
				t.Errorf("New(%q, %q) debug enabled = %v, want %v", tt.format, tt.level, got, tt.debug)
			}
			l.Warn("hello", "k", "v")
			if got := json.Valid(bytes.TrimSpace(buf.Bytes())); got != tt.json {
				t.Errorf("New(%q, %q) output %q is JSON = %v, want %v", tt.format, tt.level, buf.String(), got, tt.json)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	var buf bytes.Buffer
	l, err := logging.New(&buf, "json", "info")
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	l.Info("login",
		"user", "ann",
		"password", "hunter2",
		"Authorization", "Bearer abc.def.ghi",
		"refresh_token", "r-123",
		"x-api-key", "k-456",
		slog.Group("db", "dsn_secret", "postgres://u:pw@h", "table", "records"),
		slog.Group("credentials", "user", "bob", "pin", "9876"),
	)
	out := buf.String()
	for _, secret := range []string{"hunter2", "abc.def.ghi", "r-123", "k-456", "postgres://u:pw@h", "9876"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{`"user":"ann"`, `"table":"records"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("log lacks %s:\n%s", kept, out)
		}
	}
}

func TestIsSensitive(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true},
		{"ADMIN_PASSWORD", true},
		{"authorization", true},
		{"access-token", true},
		{"config.secret", true},
		{"private_key", true},
		{"method", false},
		{"namespace", false},
		{"key", false},
		{"duration_ms", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := logging.IsSensitive(tt.key); got != tt.want {
				t.Errorf("IsSensitive(%q) = %v, want %v", tt.key, got, tt.want)
			}
		})
	}
}
