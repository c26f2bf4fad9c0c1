package source_test

import (
	"errors"
	"strings"
	"testing"

	"m3o.dev/services/runtime/source"
)

func TestParseGitURL(t *testing.T) {
	tests := []struct {
		in, url, ref string
	}{
		{"https://github.com/micro/services", "https://github.com/micro/services", ""},
		{"https://github.com/micro/services@v1.2.3", "https://github.com/micro/services", "v1.2.3"},
		{"https://user@host.example/x/y@v1", "https://user@host.example/x/y", "v1"},
		{"https://user@host.example/x/y", "https://user@host.example/x/y", ""},
		{"https://host.example/x/y.git@0123abcd", "https://host.example/x/y.git", "0123abcd"},
		{"https://host.example:8443/a/b/c@main", "https://host.example:8443/a/b/c", "main"},
		{"file:///srv/git/repo.git@dev", "file:///srv/git/repo.git", "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			url, ref, err := source.ParseGitURL(tt.in)
			if err != nil || url != tt.url || ref != tt.ref {
				t.Fatalf("ParseGitURL(%q) = %q, %q, %v, want %q, %q, nil", tt.in, url, ref, err, tt.url, tt.ref)
			}
		})
	}
}

func TestParseGitURLRefuses(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", "empty"},
		{"-uhttps://evil/x", "starts with '-'"},
		{"--upload-pack=touch /tmp/x", "starts with '-'"},
		{"git@github.com:micro/services.git", "scp-like"},
		{"github.com:micro/services", "scp-like"},
		{"ext::sh -c touch% /tmp/pwned", "spaces"},
		{"ext::sh%20-c%20id", "remote-helper"},
		{"fd::17/x", "remote-helper"},
		{"git::https://host/x/y", "remote-helper"},
		{"ssh://git@host/x/y", `scheme "ssh"`},
		{"git://host/x/y", `scheme "git"`},
		{"http://host/x/y", `scheme "http"`},
		{"HTTPS://host/x/y", `scheme "HTTPS"`},
		{"https://host", "no repository path"},
		{"https:///x/y", "needs a host"},
		{"https://host/x/y@", "empty"},
		{"https://host/x/y@-b", "starts with '-'"},
		{"https://host/x/y@a..b", "not a valid git ref"},
		{"https://host/x/y@a~1", "characters other than"},
		{"https://host/x/y?ref=1", "queries"},
		{"file://host/srv/x", "absolute path and no host"},
		{"./relative/path", "not a URL"},
		{"/srv/git/repo", "not a URL"},
		{"https://host/x y", "spaces"},
		{"https://host/x\ny", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			url, ref, err := source.ParseGitURL(tt.in)
			if !errors.Is(err, source.ErrInvalidGitURL) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("ParseGitURL(%q) = %q, %q, %v, want ErrInvalidGitURL saying %q", tt.in, url, ref, err, tt.reason)
			}
		})
	}
}

func TestParseGitURLRedactsPasswords(t *testing.T) {
	_, _, err := source.ParseGitURL("https://user:hunter2@host/x/y@")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("ParseGitURL(URL with password) = %v, want an error without the password", err)
	}
}

func TestCheckGitURLRefusesLocal(t *testing.T) {
	tests := []string{
		"file:///srv/git/repo.git",
		"https://127.0.0.1/x/y",
		"https://localhost/x/y",
		"https://10.1.2.3/x/y",
		"https://192.168.0.1/x/y",
		"https://169.254.169.254/latest/meta-data",
		"https://[::1]/x/y",
		"https://[fd00::1]/x/y",
		"https://100.64.0.1/x/y",
		"https://0.0.0.0/x/y",
	}
	for _, url := range tests {
		t.Run(url, func(t *testing.T) {
			if err := source.CheckGitURL(t.Context(), url, source.GitOptions{}); !errors.Is(err, source.ErrLocalGitURL) {
				t.Fatalf("CheckGitURL(%q) = %v, want ErrLocalGitURL", url, err)
			}
			if err := source.CheckGitURL(t.Context(), url, source.GitOptions{AllowLocal: true}); err != nil {
				t.Fatalf("CheckGitURL(%q, AllowLocal) = %v, want nil", url, err)
			}
		})
	}
}

func TestCheckGitURLAcceptsPublicAddress(t *testing.T) {
	// An address literal needs no DNS, so this runs offline.
	if err := source.CheckGitURL(t.Context(), "https://140.82.112.3/x/y", source.GitOptions{}); err != nil {
		t.Fatalf("CheckGitURL(public address) = %v, want nil", err)
	}
}
