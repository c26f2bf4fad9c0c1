package command

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"m3o.dev/pkg/lazyregexp"
)

// invalidValue matches the flag package's refusal of a flag's value:
// invalid value "x" for flag -name: parse error, or for a boolean
// invalid boolean value "x" for -name: parse error. Compiled on first use,
// not at every start of micro.
var invalidValue = lazyregexp.New(`^invalid (?:boolean )?value (".*") for (?:flag )?-([^:]+): `)

// flagSentence is the sentence micro prints for a flag the flag package
// refused, in place of the package's own words: it names the flag as users
// type it (--limit, -o) and says what the flag takes.
func flagSentence(c *cli.Context, err error) string {
	msg := err.Error()
	if name, ok := undefinedFlag(err); ok {
		return fmt.Sprintf("There is no flag %s", dashed(name))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("%s needs a value", dashed(name))
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		if takes := takesOf(contextFlag(c, m[2])); takes != "" {
			return fmt.Sprintf("%s must be %s, not %s", dashed(m[2]), takes, m[1])
		}
	}
	return sentenceStart(msg)
}

// dashed writes a flag's name as users type it: -o, --limit.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// contextFlag finds the flag named name among those of the command in c
// and of the commands around it; nil when none has it.
func contextFlag(c *cli.Context, name string) cli.Flag {
	for _, flags := range lineageFlags(c) {
		if f := lookupFlag(flags, name); f != nil {
			return f
		}
	}
	return nil
}

// lineageFlags returns the flags of the command in c and of the commands
// around it, nearest first.
func lineageFlags(c *cli.Context) [][]cli.Flag {
	var out [][]cli.Flag
	for _, ctx := range c.Lineage() {
		switch {
		case ctx.Command != nil:
			out = append(out, ctx.Command.Flags)
		case ctx.App != nil:
			out = append(out, ctx.App.Flags)
		}
	}
	return out
}

// undefinedFlag returns the name of the flag err says does not exist.
func undefinedFlag(err error) (string, bool) {
	return strings.CutPrefix(err.Error(), "flag provided but not defined: -")
}

// takesOf says what values a flag of f's kind takes; empty for a kind whose
// value the flag package never refuses.
func takesOf(f cli.Flag) string {
	switch f.(type) {
	case *cli.UintFlag, *cli.Uint64Flag:
		return "a whole number, 0 or more"
	case *cli.IntFlag, *cli.Int64Flag:
		return "a whole number"
	case *cli.Float64Flag:
		return "a number"
	case *cli.DurationFlag:
		return "a duration such as 90s, 5m or 1h"
	case *cli.BoolFlag:
		return "true or false"
	}
	return ""
}
