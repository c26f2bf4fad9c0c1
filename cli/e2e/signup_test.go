package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"m3o.dev/services/billing/billingtest"
	"m3o.dev/services/billing/local"
	"m3o.dev/services/smtptest"
)

// signupPassword is the new account's password in the sign-up journey.
const signupPassword = "otter-lamp-password-7"

// TestSignupJourney is journey 2 on micro server with the local payment
// provider and no grace: the admin invites an email, which is mailed how
// to sign up at micro server's address; 'micro signup' mails
// the code through a real SMTP server, from whose mailbox the test reads
// it, while an email nobody invited gets nothing; the second 'micro signup' prints the subscribe page, which Chromium
// fills, first with a declined card and then an accepted one; the CLI
// completes, and the new account works in its own namespace. Past due, its
// store read exits 4 with the payment sentence; active again, it works. A
// cancel is taken back before the paid month ends.
func TestSignupJourney(t *testing.T) {
	mailbox := smtptest.Start(t)
	p := newPlatform(t, "--payment-grace", "0", "--smtp-address", mailbox.Addr, "--smtp-from", "signup@m3o.test")
	p.serverEnv = smtpEnv(t, mailbox)
	p.start()
	p.useTestEnv()
	login(t, p, "micro", "admin", adminPassword)
	const email = "ann@example.com"
	p.must("admin", "invite", "add", email)
	if out := p.must("admin", "invite", "list"); !strings.Contains(out, email) {
		t.Errorf("admin invite list = %q, want %s", out, email)
	}
	steps := "micro env add m3o " + p.grpcAddr + "\n    micro env set m3o\n    micro signup --email " + email + "\n"
	if inv, _ := mailbox.WaitForMatch(t, email, regexp.MustCompile("invited you")); !strings.Contains(inv.Text(), steps) {
		t.Errorf("the invitation reads %q, want the steps to sign up at micro server's address: %q", inv.Text(), steps)
	}

	// An email nobody invited gets the same answer, and no mail.
	p.must("signup", "--email", "eve@example.com")
	ns := signUp(t, p, mailbox, email)
	for _, m := range mailbox.Messages() {
		if slices.Contains(m.To, "eve@example.com") {
			t.Errorf("a message went to eve@example.com, who is not invited")
		}
	}
	who := p.must("whoami")
	if !strings.Contains(who, ns) || !strings.Contains(who, email) {
		t.Errorf("whoami = %q, want %s in namespace %s", who, email, ns)
	}
	if list := asAdmin(t, p, "admin", "invite", "list"); !regexp.MustCompile(email + ` +admin +\S+ \S+ +\S+ \S+ \(namespace ` + ns + `\)`).MatchString(list) {
		t.Errorf("admin invite list = %q, want %s signed up to %s", list, email, ns)
	}
	p.must("store", "write", "greeting", "hello")
	paymentGate(t, p, ns)
	cancelAndResume(t, p, ns)

	p.must("logout")
	r := p.micro(signupPassword+"\n", "login", "--username", email, "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "in namespace '"+ns+"'") {
		t.Errorf("login --username %s without --namespace = exit %d, %q %q, want namespace %s", email, r.code, r.stdout, r.stderr, ns)
	}
}

// cancelAndResume cancels the new subscription, which then ends with the
// month paid at sign-up, and takes the cancel back.
func cancelAndResume(t *testing.T, p *platform, ns string) {
	t.Helper()
	end := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	want := fmt.Sprintf("Canceled: the subscription of namespace '%s' ends on %s; 'micro billing resume' takes the cancel back until then.\n", ns, end)
	if out := p.must("billing", "cancel"); out != want {
		t.Errorf("billing cancel = %q, want %q", out, want)
	}
	want = fmt.Sprintf("Resumed: the subscription of namespace '%s' renews on %s.\n", ns, end)
	if out := p.must("billing", "resume"); out != want {
		t.Errorf("billing resume = %q, want %q", out, want)
	}
	if out := p.must("billing", "status"); !regexp.MustCompile(`RENEWS\n` + ns + ` +developer +\$35\.00/month +active +` + end).MatchString(out) {
		t.Errorf("billing status after resume = %q, want active, renewing on %s", out, end)
	}
}

// smtpEnv is the environment that has micro server send through mailbox,
// trusting its certificate from a file.
func smtpEnv(t *testing.T, mailbox *smtptest.Server) []string {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, mailbox.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"MICRO_SMTP_USERNAME=" + smtptest.Username, "MICRO_SMTP_PASSWORD=" + smtptest.Password, "MICRO_SMTP_CA_FILE=" + caFile,
	}
}

// codePattern finds the code in a sign-up email.
var codePattern = regexp.MustCompile(`sign-up code is (\d{8})`)

// signUp runs the two steps of a scripted sign-up of email, paying in
// Chromium, and returns the new namespace.
func signUp(t *testing.T, p *platform, mailbox *smtptest.Server, email string) string {
	t.Helper()
	if out := p.must("signup", "--email", email); !strings.Contains(out, "micro signup --email "+email+" --code CODE --password-stdin") {
		t.Errorf("signup --email = %q, want how to go on", out)
	}
	_, m := mailbox.WaitForMatch(t, email, codePattern)
	cli := p.begin(signupPassword+"\n", "-o", "json", "signup", "--email", email, "--code", m[1], "--password-stdin", "--no-browser")
	var first struct {
		SubscribeURL string `json:"subscribe_url"`
	}
	if line := cli.line(t, time.Minute); json.Unmarshal([]byte(line), &first) != nil || !strings.HasPrefix(first.SubscribeURL, "http://"+p.httpAddr+"/subscribe?session=") {
		t.Fatalf("first line = %q, want {\"subscribe_url\": \"http://%s/subscribe?session=…\"}", line, p.httpAddr)
	}
	payInChromium(t, first.SubscribeURL)
	r := cli.result(t, 2*time.Minute)
	_, rest, _ := strings.Cut(r.stdout, "\n")
	var done struct{ Account, Namespace string }
	if r.code != 0 || json.Unmarshal([]byte(rest), &done) != nil || done.Account != email || done.Namespace == "" {
		t.Fatalf("signup --code = exit %d, stdout %q, stderr %q, want the new account", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Waiting for the card") {
		t.Errorf("signup's stderr = %q, want the wait shown", r.stderr)
	}
	return done.Namespace
}

// payInChromium fills the subscribe page as a person would: a declined
// card, then the accepted one.
func payInChromium(t *testing.T, page string) {
	t.Helper()
	browser := billingtest.NewBrowser(t)
	if shown := browser.Open(t, page); !strings.Contains(shown.Text, "$35.00/month") {
		t.Fatalf("subscribe page shows %q, want the developer plan at $35.00/month", shown.Text)
	}
	if declined := browser.PayWithCard(t, local.CardDeclined); declined.Status != http.StatusPaymentRequired || !strings.Contains(declined.Text, "declined") {
		t.Errorf("declined card: %d %q, want 402 saying declined", declined.Status, declined.Text)
	}
	if accepted := browser.PayWithCard(t, local.CardAccepted); accepted.Status != http.StatusOK || !strings.Contains(accepted.Text, "Payment received") {
		t.Errorf("accepted card: %d %q, want 200 saying Payment received", accepted.Status, accepted.Text)
	}
}

// paymentGate sets the new namespace past due, which refuses its store
// read with the payment sentence, and active again, which lets it through.
// The delay until the refusal is logged, not asserted.
func paymentGate(t *testing.T, p *platform, ns string) {
	t.Helper()
	asAdmin(t, p, "admin", "billing", "status", ns, "--set", "past_due")
	start := time.Now()
	r := waitForExit(t, p, exitDenied, 2*time.Minute, "store", "read", "greeting")
	t.Logf("payment gate delay through the CLI: %s after --set past_due returned", time.Since(start))
	want := "Payment required in env 'test': the subscription of namespace '" + ns + "' is past due; run 'micro billing portal' to pay."
	if strings.TrimSpace(r.stderr) != want {
		t.Errorf("store read while past due: stderr = %q, want %q", r.stderr, want)
	}
	asAdmin(t, p, "admin", "billing", "status", ns, "--set", "active")
	if out := waitForExit(t, p, 0, 2*time.Minute, "store", "read", "greeting"); !strings.Contains(out.stdout, "hello") {
		t.Errorf("store read when active again = %q, want hello", out.stdout)
	}
}
