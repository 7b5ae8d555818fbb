// Command hugai ships a new version of a service safely. main only wires and runs; the commands
// live in internal/cli.
package main

import (
	"os"
	// Time zones of freeze windows must resolve on a machine without a zoneinfo database (a
	// minimal container): the binary carries its own.
	_ "time/tzdata"

	"github.com/hugai-dev/hugai/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
