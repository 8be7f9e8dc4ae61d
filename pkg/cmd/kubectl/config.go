package kubectl

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const configLong = `Which cluster each environment lives on. health, validate (and cub traderx's
health gates) read an environment on the kube context chosen, first to last, by:

  1. --context (cub traderx: --kube-context), for every environment
  2. the mapping file, $XDG_CONFIG_HOME/traderx/clusters.yaml
     (default ~/.config/traderx/clusters.yaml), set with 'config set-context'
  3. the KubeContext parameter of the ConfigHub target the environment's units
     are bound to (needs ConfigHub credentials; without them this is skipped)
  4. the kubeconfig's current context

A context the kubeconfig does not have is an error (exit 2); no other source
is tried in its place.`

// NewConfigCommand returns `config` with set-context and view.
func NewConfigCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Map environments to kube contexts: which cluster each environment is read on",
		Long:  configLong,
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSetContextCommand(flags, streams), newConfigViewCommand(flags, streams))
	return cmd
}

// SetContextOptions runs `config set-context <env> <context>`.
type SetContextOptions struct {
	Env, Context string
	// Getenv and HomeDir locate the mapping file (tests replace them).
	Getenv  func(string) string
	HomeDir string

	flags *genericclioptions.ConfigFlags
	path  string
	genericiooptions.IOStreams
}

func newSetContextCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SetContextOptions{flags: flags, IOStreams: streams, Getenv: os.Getenv}
	return &cobra.Command{
		Use:   "set-context <env> <context>",
		Short: "Read an environment on a kube context (of the kubeconfig)",
		Example: `  # prod lives on its own cluster
  kubectl traderx config set-context prod prod-eu-west`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
}

// Complete fills the options from arguments and the process.
func (o *SetContextOptions) Complete(args []string) error {
	o.Env, o.Context = args[0], args[1]
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HomeDir == "" {
		o.HomeDir, _ = os.UserHomeDir()
	}
	o.path = envcluster.DefaultPath(o.Getenv, o.HomeDir)
	return nil
}

// Validate refuses an unknown environment and a context the kubeconfig does
// not have: a mapping that cannot be used is better refused now than at the
// next health check.
func (o *SetContextOptions) Validate() error {
	env, err := traderx.LookupEnvironment(o.Env)
	if err != nil {
		return cli.UsageError(err)
	}
	r := &envcluster.Resolver{Kubeconfig: deref(o.flags.KubeConfig), Flag: o.Context}
	if _, err := r.Resolve(context.Background(), env); err != nil {
		return clusterError(err)
	}
	return nil
}

// Run writes the mapping.
func (o *SetContextOptions) Run() error {
	f, err := envcluster.Load(o.path)
	if err != nil {
		return cli.UsageError(err)
	}
	f.Contexts[o.Env] = o.Context
	if err := f.Save(o.path); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s is read on kube context %s (%s)\n", o.Env, o.Context, o.path)
	return nil
}

// ConfigViewOptions runs `config view`: the cluster each environment would be
// read on now, and why.
type ConfigViewOptions struct {
	Output  *cli.OutputFlag
	Project string
	// Getenv and HomeDir locate the mapping file and ConfigHub credentials.
	Getenv  func(string) string
	HomeDir string

	flags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// ClusterView is one environment's row of `config view`.
type ClusterView struct {
	Environment string `json:"environment"`
	Context     string `json:"context,omitempty"`
	Server      string `json:"server,omitempty"`
	Source      string `json:"source,omitempty"`
	// Error is why the environment has no usable cluster.
	Error string `json:"error,omitempty"`
}

// ConfigView is the whole of `config view -o json|yaml`.
type ConfigView struct {
	File         string        `json:"file"`
	Environments []ClusterView `json:"environments"`
}

func newConfigViewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ConfigViewOptions{flags: flags, IOStreams: streams, Getenv: os.Getenv, Output: cli.NewOutputFlag("table", "table", "yaml", "json")}
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Show the kube context each environment is read on, and where it comes from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Output.AddTo(cmd)
	cmd.Flags().StringVar(&o.Project, "project", "", "ConfigHub project whose spaces hold the environments (default $"+traderx.ProjectEnv+" or "+traderx.DefaultProject+")")
	return cmd
}

// Complete fills the options from the process.
func (o *ConfigViewOptions) Complete() error {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HomeDir == "" {
		o.HomeDir, _ = os.UserHomeDir()
	}
	return nil
}

// Validate checks the flags.
func (o *ConfigViewOptions) Validate() error {
	var err error
	if o.Project, err = traderx.ResolveProject(o.Project, o.Getenv); err != nil {
		return cli.UsageError(err)
	}
	return o.Output.Validate()
}

// Run resolves every environment and prints the result. An environment that
// cannot be resolved is a row with its error, not the end of the view.
func (o *ConfigViewOptions) Run(ctx context.Context) error {
	hub, err := newConfigHubClient(o.Getenv, o.HomeDir)
	if err != nil {
		return err
	}
	r, err := newResolver(o.flags, o.Getenv, o.HomeDir, o.Project, hub)
	if err != nil {
		return err
	}
	view := ConfigView{File: r.FilePath}
	// A broken row is shown with the others, then decides the exit code:
	// 2 when the mapping is wrong, 3 when ConfigHub could not be asked.
	var broken []string
	code := cli.ExitUsage
	for _, env := range traderx.Environments() {
		row := ClusterView{Environment: env.Name}
		if c, err := r.Resolve(ctx, env); err != nil {
			row.Error = err.Error()
			broken = append(broken, env.Name)
			if !envcluster.IsInput(err) {
				code = cli.ExitUnavailable
			}
		} else {
			row.Context, row.Server, row.Source = c.Context, c.Server, string(c.Source)
		}
		view.Environments = append(view.Environments, row)
	}
	if err := o.write(view); err != nil {
		return err
	}
	if len(broken) > 0 {
		err := fmt.Errorf("no usable cluster for %s (see the rows above; fix the mapping with `%s`)", strings.Join(broken, ", "),
			hint.SetContext(broken[0], hint.Context))
		if code == cli.ExitUsage {
			return cli.UsageError(err)
		}
		return cli.Unavailable(err)
	}
	return nil
}

func (o *ConfigViewOptions) write(view ConfigView) error {
	if done, err := cli.WriteData(o.Out, o.Output.Value, view); done {
		return err
	}
	t := table.New("")
	t.Row("ENV", "CONTEXT", "SERVER", "FROM")
	for _, v := range view.Environments {
		if v.Error != "" {
			t.Row(v.Environment, "-", "-", "error")
			t.Line("  ✗ %s", v.Error)
			continue
		}
		t.Row(v.Environment, v.Context, v.Server, v.Source)
	}
	t.Line("Mapping file: %s", view.File)
	return t.Render(o.Out)
}
