package command

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"status", "status", 0},
		{"status", "stauts", 1}, // two neighbours swapped
		{"logs", "lgs", 1},
		{"run", "ru", 1},
		{"logs", "logz", 1},
		{"login", "logz", 2},
		{"bogus", "logs", 2},
		{"", "env", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}
