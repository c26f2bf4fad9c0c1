package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLogoutRevokesAccessToken logs out, then puts the old session back
// in the config file, as a copy taken before the logout would: its access
// token is refused by the store, through the proxy, within moments, and
// its refresh token gets no new one. The delay is logged.
func TestLogoutRevokesAccessToken(t *testing.T) {
	p := newPlatform(t)
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	p.must("store", "write", "greeting", "hello")

	config := filepath.Join(p.home, ".micro", "config.json")
	saved, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	p.must("logout")
	start := time.Now()
	for {
		if err := os.WriteFile(config, saved, 0o600); err != nil {
			t.Fatal(err)
		}
		if r := p.micro("", "store", "read", "greeting"); r.code == exitNotLoggedIn {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the access token of a logged-out session still works 10s after the logout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("access token of a logged-out session refused %v after the logout returned", time.Since(start))
}
