package command

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks micro itself for the words that may come next, as
// urfave/cli's --generate-bash-completion answers.
const bashCompletion = `# bash completion for micro; load with: source <(micro completion bash)
_micro_complete() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _micro_complete micro
`

// zshCompletion does the same for zsh.
const zshCompletion = `#compdef micro
# zsh completion for micro; load with: source <(micro completion zsh)
_micro() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _micro micro
`

// completionCommand prints a shell completion script.
func (a *app) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a completion script for bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: "Load it in the current shell, for example:\n" +
			"  source <(micro completion bash)\n" +
			"  micro completion fish | source",
		Action: a.local(a.completion),
	}
}

// completion prints the script for one shell.
func (a *app) completion(c *cli.Context) error {
	shell := c.Args().First()
	var script string
	switch shell {
	case "bash":
		script = bashCompletion
	case "zsh":
		script = zshCompletion
	case "fish":
		var err error
		if script, err = c.App.ToFishCompletion(); err != nil {
			return fmt.Errorf("fish completion: %w", err)
		}
	default:
		return usageErrorf("'micro completion' knows bash, zsh and fish, not %q.", shell)
	}
	return a.out.print(map[string]string{"shell": shell, "script": script}, func(*tabwriter.Writer) {
		fmt.Fprint(a.stdout, strings.TrimRight(script, "\n")+"\n")
	})
}
