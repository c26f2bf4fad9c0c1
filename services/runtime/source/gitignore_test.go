package source

import "testing"

func TestGitignore(t *testing.T) {
	rules := parseGitignore(`
# build output
/bin/
*.log
!keep.log
node_modules/
docs/**/*.tmp
**/cache
secret.txt
a/**
\#hash
  
`)
	tests := []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"bin", true, true},
		{"bin", false, false},
		{"cmd/bin", true, false},
		{"x.log", false, true},
		{"deep/er/x.log", false, true},
		{"keep.log", false, false},
		{"deep/keep.log", false, false},
		{"node_modules", true, true},
		{"web/node_modules", true, true},
		{"node_modules", false, false},
		{"docs/a.tmp", false, true},
		{"docs/x/y/a.tmp", false, true},
		{"other/a.tmp", false, false},
		{"cache", true, true},
		{"x/y/cache", false, true},
		{"secret.txt", false, true},
		{"sub/secret.txt", false, true},
		{"a", true, false},
		{"a/b", false, true},
		{"#hash", false, true},
		{"main.go", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := rules.ignored(tt.path, tt.isDir); got != tt.want {
				t.Fatalf("ignored(%q, dir=%v) = %v, want %v", tt.path, tt.isDir, got, tt.want)
			}
		})
	}
}
