package command

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"version", []string{"micro", "version"}, ExitOK, "micro dev"},
		{"help", []string{"micro", "--help"}, ExitOK, "USAGE"},
		{"unknown flag", []string{"micro", "--bogus"}, ExitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("Run(%q) = %d, want %d (stderr %q)", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("Run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantOut)
			}
		})
	}
}
