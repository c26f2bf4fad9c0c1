package command

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// interspersed returns args with each flag moved in front of the positional
// arguments, into the command it belongs to, and each global flag moved in
// front of the first command. urfave/cli v2 stops parsing flags at the first
// positional argument and knows global flags only before the command, while
// people write 'micro store read KEY --prefix' and
// 'micro store list --output json'. Everything after "--" stays positional,
// and so do the positional arguments before it, which "--" then precedes.
// A help flag drops the positional arguments: it asks for the command's
// help whatever else is given, and urfave/cli would take the first
// argument for the name of a help topic. A word where a subcommand belongs
// that names none ends the moving: 'micro auth create account --namespace x'
// is refused for the command, which is the mistake, and not for a flag that
// belongs to the command meant.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	segments := [][]string{nil} // segments[0] holds the global flags
	var positional, terminator []string
	var help bool
	commands, flags := app.Commands, app.Flags
	for i := 1; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			terminator = []string{"--"}
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case isFlag(arg):
			help = help || isHelp(arg)
			seg, n := flagPlace(arg, flags, app.Flags, len(segments)-1)
			end := min(i+n, len(args))
			segments[seg] = append(segments[seg], args[i:end]...)
			i = end - 1
		case len(positional) == 0 && findCommand(commands, arg) != nil:
			cmd := findCommand(commands, arg)
			segments = append(segments, []string{arg})
			commands, flags = cmd.Subcommands, cmd.Flags
		case len(positional) == 0 && len(commands) > 0 && !slices.ContainsFunc(args[i:], isHelp):
			return append(flatten(args[0], segments), args[i:]...)
		default:
			positional = append(positional, arg)
		}
	}
	out := flatten(args[0], segments)
	if help {
		return out
	}
	return append(append(out, terminator...), positional...)
}

// flatten returns the program name followed by the segments in order.
func flatten(program string, segments [][]string) []string {
	out := []string{program}
	for _, seg := range segments {
		out = append(out, seg...)
	}
	return out
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help"
}

// isFlag reports whether arg is a flag rather than a value; "-" alone is the
// conventional name of standard input.
func isFlag(arg string) bool {
	return len(arg) > 1 && arg[0] == '-'
}

// flagPlace returns which segment the flag arg belongs to, the current one
// or the global one, and how many arguments it spans with its value. A flag
// known to neither stays where it is for the parser to refuse.
func flagPlace(arg string, local, global []cli.Flag, current int) (segment, span int) {
	name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	f, seg := lookupFlag(local, name), current
	if f == nil {
		if f = lookupFlag(global, name); f != nil {
			seg = 0
		}
	}
	if hasValue || f == nil || !takesValue(f) {
		return seg, 1
	}
	return seg, 2
}

// lookupFlag returns the flag called name, or nil.
func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// takesValue reports whether f needs a value after it; booleans do not.
func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return true
}

// findCommand returns the command called name, or nil.
func findCommand(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// checkArgs checks the number of positional arguments against the
// command's ArgsUsage, where a bracketed word is optional: "KEY [VALUE]".
func checkArgs(c *cli.Context) error {
	got := c.Args().Len()
	if got > 0 && hasSubcommands(c.Command) {
		return unknownCommand(c)
	}
	required, optional := countArgs(c.Command.ArgsUsage)
	name := commandName(c)
	switch {
	case got < required:
		return usageErrorf("'%s' needs %s; see '%s --help'.", name, c.Command.ArgsUsage, name)
	case got > required+optional && required+optional == 0:
		return usageErrorf("'%s' takes no arguments, but got %d; see '%s --help'.", name, got, name)
	case got > required+optional:
		return usageErrorf("'%s' takes %s, but got %d arguments; see '%s --help'.", name, c.Command.ArgsUsage, got, name)
	}
	return nil
}

// hasSubcommands reports whether cmd has subcommands of its own, apart from
// the help command urfave/cli gives every command.
func hasSubcommands(cmd *cli.Command) bool {
	for _, sub := range cmd.Subcommands {
		if !sub.HasName("help") {
			return true
		}
	}
	return false
}

// countArgs counts the required and the optional words of an ArgsUsage.
func countArgs(usage string) (required, optional int) {
	for _, w := range strings.Fields(usage) {
		if strings.HasPrefix(w, "[") {
			optional++
		} else {
			required++
		}
	}
	return required, optional
}

// sentenceStart returns s with its first letter upper case.
func sentenceStart(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
