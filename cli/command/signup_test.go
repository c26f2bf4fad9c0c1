package command

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/creack/pty"

	"m3o.dev/cli/internal/platformtest"
	authv1 "m3o.dev/proto/m3o/auth/v1"
)

// signupPassword is the new account's password in these tests.
const signupPassword = "signup-secret-42"

// TestSignupInTwoSteps signs up as a script does: the first run mails the
// code and says how to go on; the second, with the code and the password
// on stdin, prints the subscribe page's URL as its first JSON line, waits
// for the card and saves the new account's session.
func TestSignupInTwoSteps(t *testing.T) {
	h := newHarness(t)
	first := h.mustRun("signup", "--email", "ann@example.com")
	for _, want := range []string{"If ann@example.com is invited", "micro signup --email ann@example.com --code CODE --password-stdin"} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("signup --email = %q, want it to say %q", first.stdout, want)
		}
	}
	if got := h.p.CodesSent(); !slices.Equal(got, []string{"ann@example.com"}) {
		t.Errorf("codes sent to %v, want ann@example.com", got)
	}

	r := h.runIn(signupPassword+"\n", "-o", "json", "signup", "--email", "ann@example.com", "--code", platformtest.SignupCode, "--password-stdin", "--no-browser")
	if r.code != ExitOK {
		t.Fatalf("signup --code = exit %d (stdout %q, stderr %q), want 0", r.code, r.stdout, r.stderr)
	}
	firstLine, rest, _ := strings.Cut(r.stdout, "\n")
	if firstLine != `{"subscribe_url":"`+platformtest.SubscribeURL+`"}` {
		t.Errorf("first line = %q, want the subscribe URL alone", firstLine)
	}
	var done struct{ Account, Namespace string }
	if err := json.Unmarshal([]byte(rest), &done); err != nil || done.Namespace != platformtest.SignupNamespace || done.Account != "ann@example.com" {
		t.Errorf("after the first line: %q (%v), want ann@example.com in %s", rest, err, platformtest.SignupNamespace)
	}
	if !strings.Contains(r.stderr, "Waiting for the card") || strings.Contains(r.stdout+r.stderr, signupPassword) {
		t.Errorf("stderr = %q, want the wait shown and the password nowhere", r.stderr)
	}
	checkSignupSession(t, h)
}

// checkSignupSession checks that the env's session is the new account's,
// and that the platform got the password.
func checkSignupSession(t *testing.T, h *harness) {
	t.Helper()
	s, ok := h.session("test")
	if !ok || s.Namespace != platformtest.SignupNamespace || s.Account != "ann@example.com" || s.AccessToken == "" {
		t.Errorf("saved session = %+v, %v, want ann@example.com's in %s", s, ok, platformtest.SignupNamespace)
	}
	if got := h.p.SignupSecrets(); !slices.Equal(got, []string{signupPassword}) {
		t.Errorf("sign-ups completed with %d secrets, want the one password", len(got))
	}
}

// TestSignupRefusals checks what sign-up refuses before it pays, and how.
func TestSignupRefusals(t *testing.T) {
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no email without a terminal", "", []string{"signup"}, ExitUsage,
			"'micro signup' needs --email when it cannot ask for it on a terminal.\n"},
		{"a code but no password", "", []string{"signup", "--email", "ann@example.com", "--code", platformtest.SignupCode}, ExitUsage,
			"Cannot ask for a password: stdin is not a terminal. Use --password-stdin.\n"},
		{"a common password", "password\n", []string{"signup", "--email", "ann@example.com", "--code", platformtest.SignupCode, "--password-stdin"}, ExitUsage,
			"The password is one of the commonest passwords; choose one that is not.\n"},
		{"a wrong code", signupPassword, []string{"signup", "--email", "ann@example.com", "--code", "87654321", "--password-stdin"}, ExitUnauthenticated,
			"The code is wrong or has expired (a code works for 60 minutes and 5 tries): run 'micro signup --email ann@example.com' for a new one.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runIn(tt.stdin, tt.args...)
			if r.code != tt.wantCode || r.stderr != tt.wantStderr {
				t.Errorf("micro %s = exit %d, stderr %q, want %d, %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
			if called(h, authv1.SignupService_StartPayment_FullMethodName) {
				t.Error("sign-up went on to the payment")
			}
		})
	}
}

// called reports whether the platform received a call of method.
func called(h *harness, method string) bool {
	return slices.ContainsFunc(h.p.Calls(), func(c platformtest.Call) bool { return c.Method == method })
}

// TestSignupOnATerminal signs up as a person does, on a terminal: micro
// asks for the email, the code and the password twice, shows the
// subscribe page, waits for the card and logs in. Passwords that differ
// are refused before anything is verified.
func TestSignupOnATerminal(t *testing.T) {
	tests := []struct {
		name     string
		typed    []string
		wantCode int
	}{
		{"signed up", []string{"ann@example.com", platformtest.SignupCode, signupPassword, signupPassword}, ExitOK},
		{"passwords differ", []string{"ann@example.com", platformtest.SignupCode, signupPassword, "something-else-1"}, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.onTerminal(t, strings.Join(tt.typed, "\n")+"\n", "signup", "--no-browser")
			if r.code != tt.wantCode {
				t.Fatalf("signup on a terminal = exit %d (stdout %q, stderr %q), want %d", r.code, r.stdout, r.stderr, tt.wantCode)
			}
			for _, prompt := range []string{"Email: ", "Code from the email: ", "New password: ", "Again: "} {
				if !strings.Contains(r.stderr, prompt) {
					t.Errorf("stderr = %q, want the prompt %q", r.stderr, prompt)
				}
			}
			if tt.wantCode != ExitOK {
				if called(h, authv1.SignupService_Verify_FullMethodName) {
					t.Error("the code was verified although the passwords differ")
				}
				return
			}
			if !strings.Contains(r.stdout, platformtest.SubscribeURL) || !strings.Contains(r.stdout, "Signed up: ann@example.com") {
				t.Errorf("stdout = %q, want the subscribe page and the new account", r.stdout)
			}
			checkSignupSession(t, h)
		})
	}
}

// onTerminal runs micro with stdin on a pseudo-terminal into which typed
// is typed; stdout and stderr are kept apart as usual.
func (h *harness) onTerminal(t *testing.T, typed string, args ...string) result {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	go io.Copy(io.Discard, ptmx) // the terminal's echo
	if _, err := io.WriteString(ptmx, typed); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := RunWithInput(append([]string{"micro"}, args...), tty, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}
