package command

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTables runs commands in order against one platform and checks what a
// person sees.
func TestTables(t *testing.T) {
	h := newHarness(t)
	h.login()
	steps := []struct {
		args  []string
		stdin string
		want  string // a regular expression the whole stdout must match
	}{
		{[]string{"store", "write", "greeting", "hello world"}, "", `^Wrote "greeting" at version 1\.\n$`},
		{[]string{"store", "read", "greeting"}, "", `^hello world\n$`},
		{[]string{"store", "write", "notes/1", "-", "--ttl", "1h"}, "line one\nline two\n", `^Wrote "notes/1" at version 1\.\n$`},
		{[]string{"store", "read", "notes/1"}, "", `^line one\nline two\n$`},
		{[]string{"store", "read", "notes/", "--prefix"}, "", `^KEY +VALUE +VERSION +EXPIRES\nnotes/1 +line one\\nline two\\n +1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d *\n$`},
		{[]string{"store", "list"}, "", `^KEY\ngreeting\nnotes/1\n$`},
		{[]string{"store", "delete", "greeting"}, "", `^Deleted "greeting"\.\n$`},
		{[]string{"store", "databases"}, "", `^DATABASE\nmicro\n$`},
		{[]string{"config", "set", "db", `{"user":"ann","port":5432}`}, "", `^Set db \(version 1\)\.\n$`},
		{[]string{"config", "get", "db"}, "", `^\{\n  "user": "ann",\n  "port": 5432\n\}\n$`},
		{[]string{"config", "set", "greeting", "hello"}, "", `^Set greeting \(version 2\)\.\n$`},
		{[]string{"config", "get", "greeting"}, "", `^hello\n$`},
		{[]string{"config", "rollback", "1"}, "", `^Rolled back to version 1 as version 3\.\n$`},
		{[]string{"config", "history"}, "", `^VERSION +TIME +AUTHOR +ACTION +PATHS\n` +
			`3 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +admin +set +db\.user\n` +
			`3 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +tenant-z/ZZZ +set +db\.host\n$`},
		{[]string{"services"}, "", `^NAME +VERSION +NODE +ADDRESS\nhello +latest +hello-1 +127\.0\.0\.1:40001\n$`},
		{[]string{"auth", "rules", "list"}, "", `^ID +SCOPE +RESOURCE +ACCESS +PRIORITY +DESCRIPTION\n` +
			`namespace-accounts +any account +\*:\*:\* +grant +0 +Any account of the namespace may call everything in it\.\n` +
			`\nBuilt-in rules of the platform: they apply in every namespace and cannot be deleted\.\n` +
			`ID +SCOPE +RESOURCE +ACCESS +PRIORITY +DESCRIPTION\n` +
			`builtin-micro-admin +role admin of micro +\*:\*:\* +grant +2147483647 +Platform rule: the admins of namespace "micro" may call everything\.\n$`},
		{[]string{"auth", "rules", "explain", "--resource", "service:hello:Hello.Call"}, "", `^DECISION +grant\nRULE +namespace-accounts \(any account, priority 0\)\nREASON +Accounts of the namespace may call everything in it\.\n$`},
		{[]string{"auth", "accounts", "create", "carol", "--password", "s3cret-enough"}, "", `^Created account carol in namespace 'micro'\.\nLog in to it with 'micro login --username carol'\.\n$`},
		{[]string{"auth", "accounts", "list"}, "", `^NAME +NAMESPACE +TYPE +ROLES +STATUS +CREATED\nadmin +micro +user +admin +active .*\ncarol +micro +user +\S+ +active .*\n$`},
		{[]string{"billing", "status"}, "", `^NAMESPACE +PLAN +PRICE +STATUS +RENEWS\nmicro +developer +\$35\.00/month +active +\d{4}-\d\d-\d\d\n$`},
		{[]string{"billing", "portal"}, "", `^Open this page to change your card: https://m3o\.test/subscribe\?session=ps_test\n$`},
		{[]string{"admin", "billing", "status", "tenant-a", "--set", "past_due"}, "", `^NAMESPACE +PLAN +PRICE +STATUS +RENEWS\ntenant-a +developer +\$35\.00/month +past_due +\d{4}-\d\d-\d\d\n$`},
		{[]string{"billing", "cancel"}, "", `^Canceled: the subscription of namespace 'micro' ends on \d{4}-\d\d-\d\d; 'micro billing resume' takes the cancel back until then\.\n$`},
		{[]string{"billing", "resume"}, "", `^Resumed: the subscription of namespace 'micro' renews on \d{4}-\d\d-\d\d\.\n$`},
		{[]string{"billing", "status"}, "", `^NAMESPACE +PLAN +PRICE +STATUS +RENEWS\n`},
	}
	for _, s := range steps {
		r := h.runIn(s.stdin, s.args...)
		if r.code != ExitOK {
			t.Fatalf("micro %s = exit %d (%q), want 0", strings.Join(s.args, " "), r.code, r.stderr)
		}
		if !regexp.MustCompile(s.want).MatchString(r.stdout) {
			t.Errorf("micro %s = %q, want it to match %q", strings.Join(s.args, " "), r.stdout, s.want)
		}
	}
}

func TestStoreWriteFromStdinAndFlags(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("store", "write", "k", "v1")
	r := h.runIn("binary\x00value", "store", "write", "k", "-", "--if-version", "1", "--metadata", "a=b", "--metadata", "c=d=e", "--ttl", "1h")
	if r.code != ExitOK {
		t.Fatalf("micro store write - = exit %d (%q), want 0", r.code, r.stderr)
	}
	rec := h.p.Record("k")
	if got := string(rec.GetValue()); got != "binary\x00value" {
		t.Errorf("stored value = %q, want stdin %q", got, "binary\x00value")
	}
	if got := rec.GetMetadata(); got["a"] != "b" || got["c"] != "d=e" {
		t.Errorf("stored metadata = %v, want a=b and c=d=e", got)
	}
	if exp := rec.GetExpiresAt().AsTime(); time.Until(exp) < 59*time.Minute {
		t.Errorf("stored expiry = %v, want about an hour from now", exp)
	}
	// Read back, a binary value is what was written, a text one a line.
	if got := h.mustRun("store", "read", "k").stdout; got != "binary\x00value" {
		t.Errorf("micro store read k = %q, want exactly the binary value written", got)
	}
	h.mustRun("store", "write", "t", "text")
	if got := h.mustRun("store", "read", "t").stdout; got != "text\n" {
		t.Errorf("micro store read t = %q, want the text and a newline", got)
	}
}

// TestConfigSetRefusesBrokenJSON checks that a value that starts like a
// JSON object, array or string but does not parse is refused before it is
// sent, instead of being stored as a string nobody meant, and that other
// text is still stored as a string.
func TestConfigSetRefusesBrokenJSON(t *testing.T) {
	h := newHarness(t)
	h.login()
	for _, bad := range []string{`{"port": 80,}`, ` [1, 2`, `"unterminated`} {
		r := h.run("config", "set", "app", bad)
		if r.code != ExitUsage || !strings.HasPrefix(r.stderr, "VALUE starts like JSON but is not valid JSON at byte ") {
			t.Errorf("micro config set app %s = exit %d (%q), want %d and a refusal", bad, r.code, r.stderr, ExitUsage)
		}
	}
	if r := h.run("config", "get", "app"); r.code != ExitNotFound {
		t.Errorf("micro config get app after the refusals = exit %d (%q), want %d: nothing set", r.code, r.stdout, ExitNotFound)
	}
	h.mustRun("config", "set", "app", "80,}")
	if r := h.mustRun("config", "get", "app"); r.stdout != "80,}\n" {
		t.Errorf("micro config get app = %q, want the text set", r.stdout)
	}
}

// TestConfigDelRefusesEmptyPath checks that an empty PATH, such as an
// unset shell variable gives, deletes nothing: to the config service it
// names the whole document.
func TestConfigDelRefusesEmptyPath(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("config", "set", "app", "on")
	for _, path := range []string{"", " "} {
		if r := h.run("config", "del", path); r.code != ExitUsage || !strings.HasPrefix(r.stderr, "PATH is empty") {
			t.Errorf("micro config del %q = exit %d (%q), want %d and a refusal", path, r.code, r.stderr, ExitUsage)
		}
	}
	if r := h.mustRun("config", "get", "app"); r.stdout != "on\n" {
		t.Errorf("micro config get app after the refusals = %q, want the value still there", r.stdout)
	}
}

// TestValueOverTheLimitOnStdin checks that a value on stdin over the
// store's limit is refused whole, not sent cut short at the limit.
func TestValueOverTheLimitOnStdin(t *testing.T) {
	h := newHarness(t)
	h.login()
	big := strings.Repeat("v", maxValue+10)
	for _, args := range [][]string{{"store", "write", "k", "-"}, {"config", "set", "k", "-"}} {
		r := h.runIn(big, args...)
		if want := "VALUE on stdin is over 1048576 bytes (1 MiB), more than the platform takes.\n"; r.code != ExitUsage || r.stderr != want {
			t.Errorf("micro %s < %d bytes = exit %d (%q), want %d (%q)", strings.Join(args, " "), len(big), r.code, r.stderr, ExitUsage, want)
		}
	}
	if h.p.Record("k") != nil {
		t.Errorf("record k = present after the refusal, want none")
	}
}

func TestAccountsCreateGeneratesPassword(t *testing.T) {
	h := newHarness(t)
	h.login()
	r := h.mustRun("auth", "accounts", "create", "bob", "-o", "json")
	var out struct {
		Account  struct{ Name string } `json:"account"`
		Password string                `json:"password"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("micro auth accounts create -o json = %q: %v", r.stdout, err)
	}
	if out.Account.Name != "bob" || len(out.Password) < 16 {
		t.Errorf("created %q with password %q, want bob with a long generated password", out.Account.Name, out.Password)
	}
	if got := h.p.Secret("bob"); got != out.Password {
		t.Errorf("platform got secret %q, want the printed password %q", got, out.Password)
	}
	r = h.mustRun("auth", "accounts", "create", "eve", "--password", "chosen-by-eve")
	if strings.Contains(r.stdout, "chosen-by-eve") {
		t.Errorf("micro auth accounts create --password printed the password: %q", r.stdout)
	}
}

// TestAccountsDisableEnable disables an account and enables it again, and
// names a missing account with exit code 5.
func TestAccountsDisableEnable(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("auth", "accounts", "create", "carol", "--password", "s3cret-enough")
	r := h.mustRun("auth", "accounts", "disable", "carol")
	if !h.p.Disabled("carol") || !strings.Contains(r.stdout, "Disabled account carol") || !strings.Contains(r.stdout, "'micro auth accounts enable carol'") {
		t.Errorf("micro auth accounts disable carol = %q, disabled %v; want carol disabled and how to enable her", r.stdout, h.p.Disabled("carol"))
	}
	// Disabled in a namespace named by --namespace, the hint names it too.
	r = h.mustRun("auth", "accounts", "disable", "carol", "--namespace", "team-one")
	if want := "'micro auth accounts enable --namespace team-one carol' lets it log in again"; !strings.Contains(r.stdout, want) {
		t.Errorf("micro auth accounts disable carol --namespace team-one = %q, want %q", r.stdout, want)
	}
	r = h.mustRun("auth", "accounts", "enable", "carol")
	want := "Enabled account carol in namespace 'micro'. It can log in again; the tokens it held before stay revoked.\n"
	if h.p.Disabled("carol") || r.stdout != want {
		t.Errorf("micro auth accounts enable carol = %q, disabled %v; want %q and carol active", r.stdout, h.p.Disabled("carol"), want)
	}
	if r := h.run("auth", "accounts", "enable", "nobody"); r.code != ExitNotFound {
		t.Errorf("micro auth accounts enable nobody = exit %d (%q), want %d", r.code, r.stderr, ExitNotFound)
	}
	if r := h.run("auth", "accounts", "enable"); r.code != ExitUsage {
		t.Errorf("micro auth accounts enable without a name = exit %d, want %d", r.code, ExitUsage)
	}
}

func TestEnvCommands(t *testing.T) {
	h := newHarness(t)
	h.login()
	steps := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"env"}, ExitOK, `(?m)^\*  test +` + regexp.QuoteMeta(h.p.Addr) + ` +.+ +admin \(micro\)$`},
		{[]string{"env", "set", "platform"}, ExitOK, `^Env 'platform' \(api\.m3o\.dev:443\) is now current\.\n$`},
		{[]string{"env"}, ExitOK, `(?m)^\*  platform +api\.m3o\.dev:443 +- +-$`},
		{[]string{"env", "set", "nope"}, ExitNotFound, `^$`},
		{[]string{"env", "use", "test"}, ExitOK, `^Env 'test' \(.+\) is now current\.\n$`},
		{[]string{"env", "del", "platform"}, ExitError, `^$`},
		{[]string{"env", "add", "test", "h:1"}, ExitError, `^$`},
		{[]string{"env", "del", "test"}, ExitOK, `^Deleted env 'test' and forgot its login\.\n$`},
		{[]string{"env", "del", "test"}, ExitNotFound, `^$`},
		{[]string{"env", "rm", "platform"}, ExitError, `^$`},
		{[]string{"env", "remove", "test"}, ExitNotFound, `^$`},
	}
	for _, s := range steps {
		r := h.run(s.args...)
		if r.code != s.wantCode || !regexp.MustCompile(s.want).MatchString(r.stdout) {
			t.Errorf("micro %s = exit %d, %q (stderr %q), want %d, matching %q", strings.Join(s.args, " "), r.code, r.stdout, r.stderr, s.wantCode, s.want)
		}
	}
	if _, ok := h.session("test"); ok {
		t.Errorf("session of a deleted env = present, want forgotten")
	}
}

// TestAdminBillingSetRefusesUnknownStatus checks that --set takes only the
// statuses an admin may set, before anything is sent.
func TestAdminBillingSetRefusesUnknownStatus(t *testing.T) {
	h := newHarness(t)
	h.login()
	for _, bad := range []string{"ACTIVE", "paid", "unspecified"} {
		if r := h.run("admin", "billing", "status", "tenant-a", "--set", bad); r.code != ExitUsage {
			t.Errorf("micro admin billing status --set %s = exit %d (%q), want %d", bad, r.code, r.stderr, ExitUsage)
		}
	}
}

// TestBillingResumeOfAnEndedSubscription checks that resuming a
// subscription that has ended says how a new one starts.
func TestBillingResumeOfAnEndedSubscription(t *testing.T) {
	h := newHarness(t)
	h.login()
	h.mustRun("admin", "billing", "status", "micro", "--set", "canceled")
	r := h.run("billing", "resume")
	want := `Env 'test' refused the request for namespace 'micro': subscription of namespace "micro" ended on 2027-01-01, so only a new one brings it back: 'micro billing portal' starts it.` + "\n"
	if r.code != ExitError || r.stderr != want {
		t.Errorf("micro billing resume (ended) = exit %d, %q, want exit %d, %q", r.code, r.stderr, ExitError, want)
	}
}

// TestEmptyListsSaySo checks that a list with nothing in it prints its
// header for scripts and, on stderr, says what held nothing.
func TestEmptyListsSaySo(t *testing.T) {
	h := newHarness(t)
	h.login()
	tests := []struct {
		args []string
		out  string
		note string
	}{
		{[]string{"store", "list"}, "KEY\n", "No keys in table 'default' of database 'micro'.\n"},
		{[]string{"store", "list", "--prefix", "a/", "--suffix", ".json", "--table", "t1", "--database", "db1"}, "KEY\n",
			"No keys with the prefix \"a/\" and the suffix \".json\" in table 't1' of database 'db1'.\n"},
		{[]string{"store", "read", "user/", "--prefix"}, "KEY  VALUE  VERSION  EXPIRES\n",
			"No records with the prefix \"user/\" in table 'default' of database 'micro'.\n"},
		{[]string{"store", "read", ".json", "--suffix"}, "KEY  VALUE  VERSION  EXPIRES\n",
			"No records with the suffix \".json\" in table 'default' of database 'micro'.\n"},
		{[]string{"admin", "invite", "list"}, "EMAIL  INVITED BY  INVITED  SIGNED UP\n", "No one is invited. 'micro admin invite add EMAIL' invites someone.\n"},
		{[]string{"store", "list", "-o", "json"}, "{\n  \"keys\": [],\n  \"nextPageToken\": \"\"\n}\n", ""},
	}
	for _, tt := range tests {
		r := h.mustRun(tt.args...)
		if r.stdout != tt.out || r.stderr != tt.note {
			t.Errorf("micro %s = stdout %q, stderr %q, want %q, %q", strings.Join(tt.args, " "), r.stdout, r.stderr, tt.out, tt.note)
		}
	}
}
