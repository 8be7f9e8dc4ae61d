package cub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const installExample = `  # Base space plus dev, staging and prod spaces, units, targets and upstream links
  %[1]s install

  # Only dev, with the target named "sandbox"; show the plan first
  %[1]s install --envs dev --target sandbox --dry-run`

type installOptions struct {
	g *globals
	// names are --envs; envs the environments they name, in promotion order.
	names  []string
	envs   []traderx.Environment
	target string
	dryRun bool
}

func newInstallCommand(g *globals) *cobra.Command {
	o := &installOptions{g: g}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Create the base and environment spaces, units and targets in ConfigHub",
		Long: `Creates, in ConfigHub, the space <project>-base with one unit per TraderX unit
(namespace, network-policies, <service>-deployment, <service>-service, ingress)
and one space per environment whose units are clones with upstream links
(dev ← base, staging ← dev, prod ← staging) carrying the environment's
overrides (namespace, replicas, resources). Every unit of an environment is
bound to a Kubernetes target of the worker connected to its space: the one
--target names, else the only one there. With none, or several and no
--target, nothing is created: the cub commands that connect a worker are
printed and the exit code is 2. Nothing is applied.

Idempotent: what exists is kept (base units follow the model; environment
units keep their own data), so a second run changes nothing and says so.`,
		Example: fmt.Sprintf(installExample, "cub traderx"),
		Args:    cobra.NoArgs,
		RunE:    runVerb(o),
	}
	cmd.Flags().StringSliceVar(&o.names, "envs", traderx.EnvironmentNames(), "Environments to install, comma-separated")
	cmd.Flags().StringVar(&o.target, "target", "", "Kubernetes target in each environment space, advertised by its worker (default: the space's only one)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "Print the plan and change nothing")
	_ = cmd.RegisterFlagCompletionFunc("envs", cobra.FixedCompletions(traderx.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp))
	g.approval.addTo(cmd.Flags())
	return cmd
}

// environments returns the chosen environments in promotion order.
func environments(names []string) ([]traderx.Environment, error) {
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, err := traderx.LookupEnvironment(n); err != nil {
			return nil, cli.UsageError(err)
		}
		want[n] = true
	}
	if len(want) == 0 {
		return nil, cli.Usagef("--envs is empty (valid: %s)", strings.Join(traderx.EnvironmentNames(), ", "))
	}
	var out []traderx.Environment
	for _, e := range traderx.Environments() {
		if want[e.Name] {
			out = append(out, e)
		}
	}
	return out, nil
}

// Complete resolves --envs (install takes no arguments).
func (o *installOptions) Complete([]string) error {
	var err error
	o.envs, err = environments(o.names)
	return err
}

// Validate has nothing left to check: the target is looked up in ConfigHub.
func (o *installOptions) Validate() error { return nil }

// Run installs and prints the summary.
func (o *installOptions) Run(ctx context.Context) error {
	envs := o.envs
	start := o.g.env.Clock.Now()
	s, err := o.g.begin(ctx, "install", nil)
	if err != nil {
		return err
	}
	defer s.close()
	res, err := s.rollout(nil).Install(ctx, rollout.InstallOptions{Envs: envs, Target: o.target, DryRun: o.dryRun})
	if err != nil {
		var ie *rollout.InputError
		if errors.As(err, &ie) {
			for _, step := range ie.Steps {
				fmt.Fprintln(o.g.streams.ErrOut, "  "+step)
			}
		}
		return s.explain(err)
	}
	writeInstallSummary(o.g.streams.Out, s.project, envs, o.dryRun, res, o.g.env.Clock.Now().Sub(start))
	if !o.dryRun && len(res.Changes) > 0 {
		secretHelp(o.g.streams.ErrOut, envs)
	}
	s.log.Logger().Info("log: " + s.log.Path())
	return nil
}

// secretHelp says how to create the Secrets the units reference. Secrets are
// never ConfigHub units (their values would be stored and shown with the
// unit), and cub-traderx never writes to the cluster, so an operator creates
// them once per namespace.
func secretHelp(w io.Writer, envs []traderx.Environment) {
	for _, name := range traderx.RequiredSecrets() {
		fmt.Fprintf(w, "The units reference the Secret %s, which is never stored in ConfigHub. Create it once per environment before applying:\n", name)
		for _, e := range envs {
			fmt.Fprintf(w, "  kubectl -n %s create secret generic %s --from-literal=username=<user> --from-literal=password=<password>\n", e.Namespace(), name)
		}
	}
}

// writeInstallSummary is the paragraph an install ends with, on stdout.
func writeInstallSummary(out io.Writer, project string, envs []traderx.Environment, dryRun bool, res *rollout.InstallResult, took time.Duration) {
	var names []string
	for _, e := range envs {
		names = append(names, e.Name)
	}
	switch {
	case dryRun && len(res.Changes) == 0:
		fmt.Fprintf(out, "dry run: nothing to change: project %s is installed (%s; %d units)\n", project, strings.Join(res.Spaces, ", "), res.Units)
	case dryRun:
		fmt.Fprintf(out, "dry run: %d changes planned, nothing changed:\n", len(res.Changes))
		for _, c := range res.Changes {
			fmt.Fprintf(out, "  %s\n", c)
		}
	case len(res.Changes) == 0:
		fmt.Fprintf(out, "nothing to change: project %s is installed (%s; %d units)\n", project, strings.Join(res.Spaces, ", "), res.Units)
	default:
		fmt.Fprintf(out, "installed %s of project %s: %d changes (%s; %d units) in %s.\nNext: %s\n",

			strings.Join(names, ", "), project, len(res.Changes), strings.Join(res.Spaces, ", "), res.Units, took.Round(time.Second),
			hint.Apply(names[0]).InProject(project))
	}
}
