package command

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"m3o.dev/cli/internal/platformtest"
)

func TestNotLoggedIn(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		args       []string
		wantStderr string
		wantCode   string
	}{
		{"current env", []string{"store", "list"},
			"Not logged in to env 'test' (" + h.p.Addr + "). Run 'micro login'.\n", ""},
		{"platform env", []string{"--env", "platform", "store", "list"},
			"Not logged in to env 'platform' (api.m3o.dev:443). Run 'micro login' or 'micro signup'.\n", ""},
		{"whoami", []string{"whoami"},
			"Not logged in to env 'test' (" + h.p.Addr + "). Run 'micro login'.\n", ""},
		{"json", []string{"store", "list", "--output", "json"}, "", "Unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run(tt.args...)
			if r.code != ExitUnauthenticated {
				t.Errorf("micro %s = exit %d, want %d", strings.Join(tt.args, " "), r.code, ExitUnauthenticated)
			}
			if r.stderr != tt.wantStderr {
				t.Errorf("micro %s stderr = %q, want %q", strings.Join(tt.args, " "), r.stderr, tt.wantStderr)
			}
			if tt.wantCode != "" {
				if got := decodeError(t, r.stdout).Error.Code; got != tt.wantCode {
					t.Errorf("micro %s error code = %q, want %q", strings.Join(tt.args, " "), got, tt.wantCode)
				}
			} else if r.stdout != "" {
				t.Errorf("micro %s stdout = %q, want nothing", strings.Join(tt.args, " "), r.stdout)
			}
		})
	}
	if calls := h.p.Calls(); len(calls) != 0 {
		t.Errorf("platform got %d calls from commands that were not logged in, want none", len(calls))
	}
}

func TestLoginSavesPrivateTokens(t *testing.T) {
	h := newHarness(t)
	r := h.runIn(platformtest.Password+"\n", "login", "--username", platformtest.Username, "--password-stdin")
	want := "Logged in to env 'test' (" + h.p.Addr + ") as admin in namespace 'micro'.\n"
	if r.code != ExitOK || r.stdout != want {
		t.Fatalf("micro login = exit %d, stdout %q (stderr %q), want 0 and %q", r.code, r.stdout, r.stderr, want)
	}
	assertMode(t, filepath.Dir(h.configFile()), 0o700)
	assertMode(t, h.configFile(), 0o600)
	s, ok := h.session("test")
	if !ok || s.Account != platformtest.Username || s.Namespace != platformtest.Namespace || s.RefreshToken == "" {
		t.Fatalf("saved session = %+v, %v, want admin's tokens in namespace micro", s, ok)
	}
	if strings.Contains(r.stdout+r.stderr, s.AccessToken) || strings.Contains(r.stdout+r.stderr, s.RefreshToken) {
		t.Errorf("micro login printed a token")
	}
	who := h.mustRun("whoami")
	for _, w := range []string{"admin", "micro", h.p.Addr, "(the access token; micro renews it while you stay logged in)"} {
		if !strings.Contains(who.stdout, w) {
			t.Errorf("micro whoami = %q, want it to mention %q", who.stdout, w)
		}
	}
}

func TestLoginFailures(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"wrong password", "wrong\n", []string{"login", "--username", "admin", "--password-stdin"}, ExitUnauthenticated,
			"Wrong username or password for namespace 'micro' in env 'test' (" + h.p.Addr + "). An account of another namespace logs in with --namespace NAMESPACE.\n"},
		{"unknown namespace", platformtest.Password, []string{"login", "--namespace", "other", "-u", "admin", "--password-stdin"}, ExitUnauthenticated,
			"Wrong username or password for namespace 'other' in env 'test' (" + h.p.Addr + ").\n"},
		{"both password flags", "x", []string{"login", "-u", "admin", "--password", "x", "--password-stdin"}, ExitUsage,
			"Give either --password or --password-stdin, not both.\n"},
		{"no username without a terminal", "", []string{"login", "--password", "x"}, ExitUsage,
			"'micro login' needs --username when it cannot ask for it on a terminal.\n"},
		{"no password without a terminal", "", []string{"login", "-u", "admin"}, ExitUsage,
			"Cannot ask for a password: stdin is not a terminal. Use --password-stdin.\n"},
		{"empty password on stdin", "\n", []string{"login", "-u", "admin", "--password-stdin"}, ExitUsage,
			"--password-stdin read an empty password.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.runIn(tt.stdin, tt.args...)
			if r.code != tt.wantCode || r.stderr != tt.wantStderr {
				t.Errorf("micro %s = exit %d, stderr %q, want %d, %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
	if _, err := os.Stat(h.configFile()); err == nil {
		if _, ok := h.session("test"); ok {
			t.Errorf("a failed login saved a session")
		}
	}
}

func TestSilentRefresh(t *testing.T) {
	h := newHarness(t)
	h.p.SetAccessTTL(30 * time.Second) // inside the refresh margin
	h.login()
	before, _ := h.session("test")
	h.p.SetAccessTTL(15 * time.Minute)

	r := h.mustRun("store", "databases")
	if r.stderr != "" {
		t.Errorf("micro store databases with a refresh wrote %q to stderr, want a silent refresh", r.stderr)
	}
	if got := h.p.Refreshes(); got != 1 {
		t.Fatalf("refreshes after a call with a token near expiry = %d, want 1", got)
	}
	after, _ := h.session("test")
	if after.AccessToken == before.AccessToken || after.RefreshToken == before.RefreshToken {
		t.Errorf("saved tokens after refresh are unchanged, want the new pair")
	}
	if after.Account != before.Account || after.Namespace != before.Namespace {
		t.Errorf("session after refresh = %s in %s, want %s in %s", after.Account, after.Namespace, before.Account, before.Namespace)
	}
	h.mustRun("store", "list")
	if got := h.p.Refreshes(); got != 1 {
		t.Errorf("refreshes after a call with a fresh token = %d, want still 1", got)
	}
}

func TestRefusedTokenRefreshedOnce(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.p.ForgetAccessTokens()

	r := h.mustRun("store", "databases")
	if r.stderr != "" {
		t.Errorf("micro store databases with a refused token wrote %q to stderr, want a silent retry", r.stderr)
	}
	if got := h.p.Refreshes(); got != 1 {
		t.Errorf("refreshes after a refused token = %d, want 1", got)
	}

	h.p.ForgetAccessTokens()
	h.p.RevokeRefresh()
	if r := h.run("store", "list"); r.code != ExitUnauthenticated {
		t.Errorf("micro store list with a refused token and a revoked login = exit %d, want %d", r.code, ExitUnauthenticated)
	}
}

func TestRefreshRevoked(t *testing.T) {
	h := newHarness(t)
	h.p.SetAccessTTL(30 * time.Second)
	h.login()
	h.p.RevokeRefresh()
	r := h.run("store", "list")
	want := "Your session for env 'test' (" + h.p.Addr + ") has expired or was revoked. Run 'micro login'.\n"
	if r.code != ExitUnauthenticated || r.stderr != want {
		t.Errorf("micro store list with a revoked login = exit %d, %q, want %d, %q", r.code, r.stderr, ExitUnauthenticated, want)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	h.login()
	s, _ := h.session("test")
	r := h.mustRun("logout")
	if want := "Logged out of env 'test' (" + h.p.Addr + ").\n"; r.stdout != want {
		t.Errorf("micro logout = %q, want %q", r.stdout, want)
	}
	if !slices.Contains(h.p.Revoked(), s.RefreshToken) {
		t.Errorf("revoked = %q, want the session's refresh token among them", h.p.Revoked())
	}
	if _, ok := h.session("test"); ok {
		t.Errorf("session after logout = present, want gone")
	}
	if r := h.run("store", "list"); r.code != ExitUnauthenticated {
		t.Errorf("micro store list after logout = exit %d, want %d", r.code, ExitUnauthenticated)
	}
}

func TestLogoutOffline(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.p.Stop()
	r := h.mustRun("logout", "-o", "json")
	if !strings.Contains(r.stdout, `"revoked": false`) || !strings.Contains(r.stdout, `"logged_out": true`) {
		t.Errorf("micro logout with the platform down = %q, want logged out but not revoked", r.stdout)
	}
	if _, ok := h.session("test"); ok {
		t.Errorf("session after an offline logout = present, want gone")
	}
}

func TestMicroEnvOverride(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("env", "add", "other", "127.0.0.1:1")
	notOther := "Not logged in to env 'other' (127.0.0.1:1). Run 'micro login'.\n"

	t.Setenv("MICRO_ENV", "other")
	if r := h.run("store", "list"); r.code != ExitUnauthenticated || r.stderr != notOther {
		t.Errorf("MICRO_ENV=other micro store list = exit %d, %q, want %d, %q", r.code, r.stderr, ExitUnauthenticated, notOther)
	}
	if r := h.run("--env", "test", "store", "list"); r.code != ExitOK {
		t.Errorf("MICRO_ENV=other micro --env test store list = exit %d (%q), want 0: the flag wins", r.code, r.stderr)
	}
	if r := h.mustRun("env"); !strings.Contains(r.stdout, "*  other") {
		t.Errorf("MICRO_ENV=other micro env = %q, want other marked current", r.stdout)
	}

	unsetenv(t, "MICRO_ENV")
	if r := h.run("store", "list"); r.code != ExitOK {
		t.Errorf("micro store list without MICRO_ENV = exit %d (%q), want 0 in the saved env", r.code, r.stderr)
	}
}

func TestLocalEnvTrustsServerCA(t *testing.T) {
	h := newHarness(t)
	r := h.mustRun("env")
	want := filepath.Join(h.home, ".micro", "server", "ca.pem")
	if !strings.Contains(r.stdout, "local     127.0.0.1:8081") || !strings.Contains(r.stdout, want) {
		t.Errorf("micro env = %q, want local at 127.0.0.1:8081 trusting %s", r.stdout, want)
	}
	r = h.run("--env", "local", "store", "list")
	wantErr := "Cannot reach env 'local' at 127.0.0.1:8081: there is no CA file at " + want + "; is 'micro server' running?\n"
	if r.code != ExitError || r.stderr != wantErr {
		t.Errorf("micro --env local store list without a server = exit %d, %q, want %d, %q", r.code, r.stderr, ExitError, wantErr)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("mode of %s = %o, want %o", path, got, want)
	}
}

// TestAuthToken prints the token micro sends, alone on its line for
// $(micro auth token), renewed first when it is about to expire, and with
// its expiry as JSON.
func TestAuthToken(t *testing.T) {
	h := newHarness(t)
	if r := h.run("auth", "token"); r.code != ExitUnauthenticated || r.stdout != "" {
		t.Errorf("micro auth token logged out = exit %d, stdout %q, want %d and nothing", r.code, r.stdout, ExitUnauthenticated)
	}
	h.login()
	saved, _ := h.session("test")
	if r := h.mustRun("auth", "token"); r.stdout != saved.AccessToken+"\n" {
		t.Errorf("micro auth token = %q, want the saved access token alone on its line", r.stdout)
	}

	h.p.SetAccessTTL(30 * time.Second) // inside the refresh margin
	h.login()
	h.p.SetAccessTTL(15 * time.Minute)
	var got struct {
		Token  string    `json:"token"`
		Expiry time.Time `json:"expiry"`
	}
	r := h.mustRun("auth", "token", "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("micro auth token --output json = %q: %v", r.stdout, err)
	}
	renewed, _ := h.session("test")
	if h.p.Refreshes() != 1 || got.Token != renewed.AccessToken || !got.Expiry.Equal(renewed.Expiry) {
		t.Errorf("micro auth token near expiry = %+v after %d refreshes, want the renewed token %+v after 1",
			got, h.p.Refreshes(), renewed)
	}
	if time.Until(got.Expiry) < 10*time.Minute {
		t.Errorf("the token printed near expiry expires at %v, want the renewed one's 15 minutes", got.Expiry)
	}
}

// TestLoginCommand names --namespace only where login needs it: not for
// micro, the default, nor for an email, which is unique on the platform.
func TestLoginCommand(t *testing.T) {
	tests := []struct{ name, ns, want string }{
		{"carol", "micro", "micro login --username carol"},
		{"dev", "team-one", "micro login --namespace team-one --username dev"},
		{"ann@example.com", "team-one", "micro login --username ann@example.com"},
	}
	for _, tt := range tests {
		if got := loginCommand(tt.name, tt.ns); got != tt.want {
			t.Errorf("loginCommand(%q, %q) = %q, want %q", tt.name, tt.ns, got, tt.want)
		}
	}
}
