package cli

import (
	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// CompleteEnvironments completes the first positional argument with
// environment names.
func CompleteEnvironments(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return traderx.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
}

// CompleteServices completes a --services style flag with service names.
func CompleteServices(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return traderx.ServiceNames(), cobra.ShellCompDirectiveNoFileComp
}

// SetDisplayName makes help and usage show the plugin the way users type it
// ("kubectl traderx", "cub traderx").
func SetDisplayName(root *cobra.Command, display string) {
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = display
}
