package command

import (
	"bytes"
	"io"
	"regexp"
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

// TestHelpNamesEveryValue checks that the help of every command names what
// each flag takes, such as --cpu CPU, never urfave/cli's bare "value".
func TestHelpNamesEveryValue(t *testing.T) {
	bare := regexp.MustCompile(`(?m)^\s+(--\S+) value\b`)
	for _, name := range runnable(newApp(nil, io.Discard, io.Discard).cli().Commands, "") {
		var stdout, stderr bytes.Buffer
		args := append(append([]string{"micro"}, strings.Fields(name)...), "--help")
		if code := Run(args, &stdout, &stderr); code != ExitOK {
			t.Fatalf("micro %s --help = exit %d (%q)", name, code, stderr.String())
		}
		for _, m := range bare.FindAllStringSubmatch(stdout.String(), -1) {
			t.Errorf("micro %s --help shows %s value; give its usage a `PLACEHOLDER`", name, m[1])
		}
	}
}
