// Command cub-traderx is the ConfigHub cub plugin: cub traderx <command>.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cmd/cub"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cli.Execute(cub.NewRootCommand(streams), os.Args[1:], os.Stderr))
}
