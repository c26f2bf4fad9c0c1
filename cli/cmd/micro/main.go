// Command micro is the M3O command line: it runs the platform locally with
// 'micro server' and drives a local or hosted platform.
package main

import (
	"os"

	"m3o.dev/cli/command"
)

func main() {
	os.Exit(command.Run(os.Args, os.Stdout, os.Stderr))
}
