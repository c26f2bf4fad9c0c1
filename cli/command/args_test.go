package command

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	app := newApp(nil, io.Discard, io.Discard).cli()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"flag after the key", "micro store read k --prefix", "micro store read --prefix k"},
		{"flag with a value after the arguments", "micro store write k - --ttl 1h", "micro store write --ttl 1h k -"},
		{"flag with = after the arguments", "micro store write k v --ttl=1h", "micro store write --ttl=1h k v"},
		{"global flag after the command", "micro store list --output json", "micro --output json store list"},
		{"global short flag after the arguments", "micro store read k -o json", "micro -o json store read k"},
		{"global flag before the command", "micro --env test store list", "micro --env test store list"},
		{"already in order", "micro store read --limit 5 k", "micro store read --limit 5 k"},
		{"double dash keeps the rest positional", "micro config set x -- -5 --secret", "micro config set -- x -5 --secret"},
		{"unknown flag stays with its command", "micro store read k --bogus", "micro store read --bogus k"},
		{"help flag", "micro store read -h", "micro store read -h"},
		{"help flag after the arguments", "micro store read k --help", "micro store read --help"},
		{"help flag between the arguments", "micro auth accounts create bob -h --roles admin", "micro auth accounts create -h --roles admin"},
		{"help after double dash is positional", "micro config set x -- --help", "micro config set -- x --help"},
		{"subcommand named like an argument", "micro env set store", "micro env set store"},
		{"unknown command keeps its flags", "micro auth create account --namespace x", "micro auth create account --namespace x"},
		{"unknown command after flags", "micro -o json auth create --roles a", "micro -o json auth create --roles a"},
		{"unknown command asking for help", "micro auth create account -h", "micro auth -h"},
		{"completion request untouched", "micro store --generate-bash-completion", "micro store --generate-bash-completion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := interspersed(app, strings.Fields(tt.in))
			if want := strings.Fields(tt.want); !slices.Equal(got, want) {
				t.Errorf("interspersed(%q) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, "'micro bogus' is not a micro command; see 'micro --help'."},
		{[]string{"store", "bogus"}, "'micro store bogus' is not a micro command; see 'micro store --help'."},
		{[]string{"env", "bogus"}, "'micro env bogus' is not a micro command; see 'micro env --help'."},
		{[]string{"stauts"}, "'micro stauts' is not a micro command. Did you mean 'micro status'?"},
		{[]string{"store", "wirte", "k", "v"}, "'micro store wirte' is not a micro command. Did you mean 'micro store write'?"},
		{[]string{"auth", "acounts", "list"}, "'micro auth acounts' is not a micro command. Did you mean 'micro auth accounts'?"},
		{[]string{"logz", "hello"}, "'micro logz' is not a micro command. Did you mean 'micro logs'?"},
		{[]string{"e"}, "'micro e' is not a micro command; see 'micro --help'."},
		{[]string{"auth", "create", "account", "--namespace", "x", "--roles", "developer", "dev"}, "'micro auth create' is not a micro command. Did you mean 'micro auth accounts create'?"},
		{[]string{"auth", "list", "rules"}, "'micro auth list' is not a micro command. Did you mean 'micro auth rules list'?"},
		{[]string{"auth", "create"}, "'micro auth create' is not a micro command. Did you mean 'micro auth accounts create' or 'micro auth rules create'?"},
		{[]string{"deploy", "."}, "'micro deploy' is not a micro command. Did you mean 'micro run'?"},
		{[]string{"signin"}, "'micro signin' is not a micro command. Did you mean 'micro login'?"},
		{[]string{"store", "get", "k"}, "'micro store get' is not a micro command. Did you mean 'micro store read'?"},
		{[]string{"config", "rm", "a"}, "'micro config rm' is not a micro command. Did you mean 'micro config del'?"},
		{[]string{"admin", "set", "quota", "x", "--services", "3"}, "'micro admin set' is not a micro command. Did you mean 'micro admin quota set'?"},
		{[]string{"--bogus"}, "There is no flag --bogus; see 'micro --help'."},
		{[]string{"store", "read", "--bogus"}, "There is no flag --bogus; see 'micro store read --help'."},
		{[]string{"store", "read", "-x"}, "There is no flag -x; see 'micro store read --help'."},
		{[]string{"store", "list", "--limt", "3"}, "There is no flag --limt. Did you mean --limit?"},
		{[]string{"--outptu", "json", "env"}, "There is no flag --outptu. Did you mean --output?"},
		{[]string{"login", "--namspace", "x"}, "There is no flag --namspace. Did you mean --namespace?"},
		{[]string{"store", "list", "--limit"}, "--limit needs a value; see 'micro store list --help'."},
		{[]string{"store", "list", "--limit", "-1"}, `--limit must be a whole number, 0 or more, not "-1"; see 'micro store list --help'.`},
		{[]string{"store", "write", "--ttl", "soon", "k", "v"}, `--ttl must be a duration such as 90s, 5m or 1h, not "soon"; see 'micro store write --help'.`},
		{[]string{"store", "read", "--prefix=maybe", "k"}, `--prefix must be true or false, not "maybe"; see 'micro store read --help'.`},
		{[]string{"store", "read"}, "'micro store read' needs KEY unless --prefix or --suffix is given."},
		{[]string{"store", "write", "k"}, "'micro store write' needs KEY VALUE; see 'micro store write --help'."},
		{[]string{"store", "delete", "a", "b"}, "'micro store delete' takes KEY, but got 2 arguments; see 'micro store delete --help'."},
		{[]string{"services", "x"}, "'micro services' takes no arguments, but got 1; see 'micro services --help'."},
		{[]string{"store", "read", "--limit", "many", "k"}, `--limit must be a whole number, 0 or more, not "many"; see 'micro store read --help'.`},
		{[]string{"--output", "yaml", "version"}, `--output must be 'table' or 'json', not "yaml".`},
		{[]string{"config", "rollback", "latest"}, `VERSION must be a version number from 'micro config history', not "latest".`},
		{[]string{"auth", "rules", "create", "--resource", "service:a:b", "--access", "grant"}, "'micro auth rules create' needs --scope: a role, '*' for any account of the namespace, or '' for anyone."},
		{[]string{"auth", "rules", "create", "--scope", "", "--resource", "service:a:b", "--access", "maybe"}, `--access must be grant or deny, not "maybe".`},
		{[]string{"auth", "rules", "explain", "--resource", "hello"}, `--resource must be service:NAME:ENDPOINT, such as service:hello:Hello.Call, not "hello".`},
		{[]string{"completion", "powershell"}, `'micro completion' knows bash, zsh and fish, not "powershell".`},
		{[]string{"env", "add", "Staging", "h:1"}, `Cannot add env 'Staging': the name "Staging" must be 1 to 32 lower-case letters, digits or dashes, starting with a letter.`},
		{[]string{"env", "add", "staging", "h"}, `Cannot add env 'staging': the address "h" must be host:port.`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := h.run(tt.args...)
			if r.code != ExitUsage || r.stderr != tt.want+"\n" || r.stdout != "" {
				t.Errorf("micro %s = exit %d, stderr %q, stdout %q, want %d, %q and no output", strings.Join(tt.args, " "), r.code, r.stderr, r.stdout, ExitUsage, tt.want)
			}
		})
	}
	if calls := h.p.Calls(); len(calls) != 0 {
		t.Errorf("usage errors made %d calls to the platform, want none", len(calls))
	}
}
