// Command cub-traderx is the ConfigHub cub plugin: cub traderx <command>. It
// also answers cub's install/upgrade hook (CUB_PLUGIN_HOOK) and runs directly.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cmd/cub"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cub.Run(os.Args[0], os.Args[1:], streams, cub.OSEnv()))
}
