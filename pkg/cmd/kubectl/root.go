// Package kubectl is the cobra tree of kubectl-traderx. Commands only wire
// flags to options structs; the work happens in pkg/health, pkg/validate and
// pkg/manifests.
package kubectl

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/plugins"
)

// Name is the binary name kubectl dispatches to.
const Name = "kubectl-traderx"

// NewRootCommand builds the kubectl-traderx command tree.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	color := &cli.ColorFlag{}
	root := &cobra.Command{
		Use:   "traderx",
		Short: plugins.Kubectl().Summary,
		Long: `kubectl traderx reads a Kubernetes cluster and judges a TraderX environment.
It never changes the cluster; changes go through ConfigHub with 'cub traderx'.

` + cli.ExitCodesHelp,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	cli.SetDisplayName(root, "kubectl traderx")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	color.AddTo(root)

	root.AddCommand(
		cli.NewVersionCommand(Name, streams),
		NewManifestsCommand(streams),
	)
	root.AddCommand(NewHealthCommand(flags, color, streams))
	root.AddCommand(NewValidateCommand(flags, color, streams))
	root.AddCommand(NewConfigCommand(flags, streams))
	return root
}
