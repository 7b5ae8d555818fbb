// Command hugai ships a new version of a service safely. main only wires and runs; the commands
// live in internal/cli.
package main

import (
	"os"

	"github.com/hugai-dev/hugai/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
