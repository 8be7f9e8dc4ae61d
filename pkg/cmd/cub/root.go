// Package cub is the cobra tree of cub-traderx, the ConfigHub plugin. It
// changes environments only through the ConfigHub API.
package cub

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
)

// Name is the plugin's binary name.
const Name = "cub-traderx"

// NewRootCommand builds the cub-traderx command tree.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	color := &cli.ColorFlag{}
	root := &cobra.Command{
		Use:   "traderx",
		Short: "Install, apply, promote and roll back FINOS TraderX environments through ConfigHub",
		Long: `cub traderx manages TraderX environments as ConfigHub units. It changes
environments only through the ConfigHub API; its cluster access is read-only.

` + cli.ExitCodesHelp,
	}
	cli.SetDisplayName(root, "cub traderx")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	color.AddTo(root)
	root.AddCommand(cli.NewVersionCommand(Name, streams))
	return root
}
