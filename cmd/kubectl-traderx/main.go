// Command kubectl-traderx is the kubectl plugin: kubectl traderx <command>.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cmd/kubectl"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Execute(kubectl.NewRootCommand(streams), os.Args[1:], os.Stderr))
}
