package kubectl

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/monitoring"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const manifestsExample = `  # Print the dev environment as YAML
  %[1]s manifests dev

  # Print prod as a JSON List and apply it elsewhere
  %[1]s manifests prod -o json > traderx-prod.json

  # Print the monitoring configuration (Prometheus config and rules, Grafana dashboard)
  %[1]s manifests prod --monitoring

  # Print the least-privilege roles: traderx-viewer (health, validate) and the ConfigHub worker's
  %[1]s manifests prod --rbac`

// ManifestsOptions renders an environment; it reads nothing from the cluster.
type ManifestsOptions struct {
	Env    string
	Output *cli.OutputFlag
	// Monitoring renders the monitoring objects instead of the application.
	Monitoring bool
	// RBAC renders the viewer and ConfigHub worker roles instead.
	RBAC bool

	env traderx.Environment
	genericiooptions.IOStreams
}

// NewManifestsCommand returns `manifests <env>`.
func NewManifestsCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ManifestsOptions{Output: cli.NewOutputFlag("yaml", "yaml", "json"), IOStreams: streams}
	cmd := &cobra.Command{
		Use:               "manifests <env>",
		Short:             "Print the Kubernetes objects of an environment as rendered from the TraderX model",
		Example:           fmt.Sprintf(manifestsExample, "kubectl traderx"),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Output.AddTo(cmd)
	cmd.Flags().BoolVar(&o.Monitoring, "monitoring", false, "Render the monitoring configuration (ConfigMaps and a PrometheusRule) instead of the application")
	cmd.Flags().BoolVar(&o.RBAC, "rbac", false, "Render the traderx-viewer role (what health and validate need) and the ConfigHub worker's role instead of the application")
	return cmd
}

// Complete fills the options from arguments.
func (o *ManifestsOptions) Complete(args []string) error {
	o.Env = args[0]
	return nil
}

// Validate checks the input before anything is rendered.
func (o *ManifestsOptions) Validate() error {
	env, err := traderx.LookupEnvironment(o.Env)
	if err != nil {
		return cli.UsageError(err)
	}
	o.env = env
	if o.Monitoring && o.RBAC {
		return cli.Usagef("--monitoring and --rbac render different things; pick one")
	}
	return o.Output.Validate()
}

// Run renders and prints the environment.
func (o *ManifestsOptions) Run() error {
	objs, err := o.objects()
	if err != nil {
		return err
	}
	var out []byte
	if o.Output.Value == "json" {
		out, err = manifests.EncodeJSON(objs)
	} else {
		out, err = manifests.EncodeYAML(objs)
	}
	if err != nil {
		return err
	}
	_, err = o.Out.Write(out)
	return err
}

func (o *ManifestsOptions) objects() ([]*unstructured.Unstructured, error) {
	if o.Monitoring {
		return monitoring.Objects(o.env)
	}
	if o.RBAC {
		return manifests.RBAC(o.env), nil
	}
	units, err := manifests.Render(o.env)
	if err != nil {
		return nil, err
	}
	return manifests.Objects(units), nil
}
