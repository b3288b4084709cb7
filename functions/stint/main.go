// Command stint is the operator's tool and the single-process host: stint
// serve runs every function on one machine, stint demo tells the story on
// the sandbox tenant, and the other commands inspect and steer. See
// stint --help.
package main

import (
	"os"

	"github.com/stintdev/stint/pkg/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}
