package command

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Suggestions for what was mistyped: the command or flag a word is a typo
// of, by edit distance, the command another tool's word stands for, and
// the command a verb meant when it came before its noun.

// nearestCommand returns the subcommand of c that typed is a typo of, or
// "".
func nearestCommand(c *cli.Context, typed string) string {
	names := map[string][]string{}
	for _, cmd := range subcommands(c) {
		if !cmd.Hidden && !cmd.HasName("help") {
			names[cmd.Name] = cmd.Names()
		}
	}
	return nearest(names, typed)
}

// nearest returns the key of names, each key's names (its own and its
// aliases) fewest edits from typed, when it is alone in being so and near
// enough for typed to be a typo: one edit, or two in a word of six letters
// or more. Otherwise it returns "".
func nearest(names map[string][]string, typed string) string {
	near, best, tie := "", 2+len(typed)/6, false
	for key, aliases := range names {
		d := best + 1
		for _, n := range aliases {
			d = min(d, editDistance(n, typed))
		}
		switch {
		case d < best:
			near, best, tie = key, d, false
		case d == best:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return near
}

// editDistance is the Levenshtein distance between a and b: the fewest
// insertions, deletions and substitutions of a byte that turn one into the
// other, with a swap of two neighbours counting as one.
func editDistance(a, b string) int {
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// nearestFlag returns, for a flag that does not exist, the one flag of the
// command in c, or of the commands around it, that it is a typo of, as
// users type it; "" when err is about something else or none is near.
func nearestFlag(c *cli.Context, err error) string {
	typed, ok := undefinedFlag(err)
	if !ok || len(typed) < 2 {
		return ""
	}
	names := map[string][]string{}
	for _, flags := range lineageFlags(c) {
		addFlagNames(names, flags)
	}
	if near := nearest(names, typed); near != "" {
		return dashed(near)
	}
	return ""
}

// addFlagNames adds to names each flag under its name, with its names and
// aliases longer than a letter, where a typo can be told from another flag.
func addFlagNames(names map[string][]string, flags []cli.Flag) {
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) > 1 {
				names[f.Names()[0]] = append(names[f.Names()[0]], n)
			}
		}
	}
}

// swappedCommands returns the commands that typed, a verb, meant when it
// came before the noun, as Micro v3 ordered them ('micro auth create
// account' for 'micro auth accounts create'), each quoted: the
// subcommands of c's command that have a subcommand typed, narrowed to
// the one noun names, singular or plural, when it names one.
func swappedCommands(c *cli.Context, typed, noun string) []string {
	parent := commandName(c)
	var all, named []string
	for _, group := range subcommands(c) {
		if group.Hidden || findCommand(group.Subcommands, typed) == nil {
			continue
		}
		meant := fmt.Sprintf("'%s %s %s'", parent, group.Name, typed)
		all = append(all, meant)
		if noun != "" && (group.HasName(noun) || group.HasName(noun+"s")) {
			named = append(named, meant)
		}
	}
	if len(named) > 0 {
		return named
	}
	return all
}

// subcommands returns the commands under c's: the app's at the root.
func subcommands(c *cli.Context) []*cli.Command {
	if c.Command != nil && c.Command.Name != "" {
		return c.Command.Subcommands
	}
	return c.App.Commands
}

// synonyms are words other tools use for what a micro command does, each
// with the commands it may mean, in the order tried: the first that
// exists where it was typed is suggested.
var synonyms = map[string][]string{
	"deploy": {"run"}, "start": {"run"}, "push": {"run"}, "create": {"new"}, "init": {"new"},
	"ps": {"status"}, "ls": {"list", "status"}, "info": {"status"}, "show": {"get", "status"},
	"stop": {"kill"}, "destroy": {"kill"}, "rm": {"delete", "kill"}, "remove": {"delete", "kill"},
	"get": {"read"}, "put": {"write"}, "set": {"write"},
	"restart": {"update"}, "redeploy": {"update"}, "upgrade": {"update"},
	"tail": {"logs"}, "invoke": {"call"},
	"signin": {"login"}, "signout": {"logout"}, "register": {"signup"}, "me": {"whoami"}, "context": {"env"},
}

// synonymCommand returns the subcommand of c's command that typed, a word
// of another tool, stands for, or "".
func synonymCommand(c *cli.Context, typed string) string {
	for _, name := range synonyms[typed] {
		if cmd := findCommand(subcommands(c), name); cmd != nil && !cmd.Hidden {
			return cmd.Name
		}
	}
	return ""
}
