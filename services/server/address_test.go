package server

import "testing"

// TestInvitedAddress checks which address invitations name: the one
// configured, else the proxy's own, but none for a proxy listening on
// every interface.
func TestInvitedAddress(t *testing.T) {
	tests := []struct{ configured, listening, want string }{
		{"", "127.0.0.1:8081", "127.0.0.1:8081"},
		{"", "0.0.0.0:8081", ""},
		{"", "[::]:8081", ""},
		{"m3o.example.com:8081", "0.0.0.0:8081", "m3o.example.com:8081"},
	}
	for _, tt := range tests {
		if got := invitedAddress(tt.configured, tt.listening); got != tt.want {
			t.Errorf("invitedAddress(%q, %q) = %q, want %q", tt.configured, tt.listening, got, tt.want)
		}
	}
}
