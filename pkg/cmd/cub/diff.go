package cub

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const diffExample = `  # What differs between dev and staging beyond the model's per-environment settings
  %[1]s diff dev staging

  # One service only, as JSON (the changed fields per unit)
  %[1]s diff staging prod trade-service -o json

  # Changes in ConfigHub that are not live yet (head vs live state)
  %[1]s diff staging --live`

type diffOptions struct {
	g        *globals
	req      diffRequest
	live     bool
	exitCode bool
	output   *cli.OutputFlag
}

func newDiffCommand(g *globals) *cobra.Command {
	o := &diffOptions{g: g, output: cli.NewOutputFlag("text", "text", "json")}
	cmd := &cobra.Command{
		Use:   "diff <envA> <envB> [service] | diff <env> --live [service]",
		Short: "Show how two environments' units differ, or what in ConfigHub is not live yet (read-only)",
		Long: `Compares ConfigHub unit data as a unified YAML diff per unit (coloured with
--color), or with -o json as the list of changed fields per unit. Read-only:
it never writes to ConfigHub or the cluster.

diff <envA> <envB> compares the head data of the two environments' units. The
model makes environments differ on purpose — namespace, environment label,
replicas, resources, circuit-breaker settings, ingress host, prod's
PodDisruptionBudgets and topology spread. Exactly those differences are
ignored: both environments are rendered from the model, and a field where the
renderings differ is not shown as long as each environment holds its own
rendered value there (context lines then show envB's value on both sides). A
value that departs from the model on either side is shown.

diff <env> --live compares each unit's live state (what ConfigHub last
applied, as the cluster returned it) with its head data, on the fields the
head data has: defaults and status the cluster adds are not differences, and
quantities compare by value. It shows changes written (e.g. by a promotion)
but not applied yet.

Exit code 0 whether or not there are differences; with --exit-code, 1 when
there are.`,
		Example: fmt.Sprintf(diffExample, "cub traderx"),
		Args:    cobra.RangeArgs(1, 3),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
			if len(args) < 2 {
				return traderx.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
			}
			return traderx.ServiceNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: runVerb(o),
	}
	cmd.Flags().BoolVar(&o.live, "live", false, "Compare the environment's live state with its head data")
	cmd.Flags().BoolVar(&o.exitCode, "exit-code", false, "Exit 1 when there are differences")
	o.output.AddTo(cmd)
	return cmd
}

// diffRequest is the parsed arguments.
type diffRequest struct {
	a, b     traderx.Environment
	services []string
}

func (o *diffOptions) parse(args []string) (diffRequest, error) {
	var req diffRequest
	var err error
	if req.a, err = traderx.LookupEnvironment(args[0]); err != nil {
		return req, cli.UsageError(err)
	}
	rest := args[1:]
	if !o.live {
		if len(rest) == 0 {
			return req, cli.Usagef("give two environments to compare, or --live to compare %s with its live state", req.a.Name)
		}
		if req.b, err = traderx.LookupEnvironment(rest[0]); err != nil {
			return req, cli.UsageError(err)
		}
		if req.a.Name == req.b.Name {
			return req, cli.Usagef("%s compared with itself: give two different environments, or --live", req.a.Name)
		}
		rest = rest[1:]
	}
	switch len(rest) {
	case 0:
	case 1:
		if _, err := traderx.LookupService(rest[0]); err != nil {
			return req, cli.UsageError(err)
		}
		req.services = rest
	default:
		return req, cli.Usagef("too many arguments: with --live give <env> [service]")
	}
	return req, nil
}

// Complete parses the arguments.
func (o *diffOptions) Complete(args []string) error {
	var err error
	o.req, err = o.parse(args)
	return err
}

// Validate checks the output format and --color.
func (o *diffOptions) Validate() error {
	if err := o.output.Validate(); err != nil {
		return err
	}
	return o.g.color.Validate()
}

// Run reads both sides and prints the diff.
func (o *diffOptions) Run(ctx context.Context) error {
	req := o.req
	s, err := o.g.open("diff")
	if err != nil {
		return err
	}
	defer s.close()
	r := s.rollout(nil)
	var d *rollout.EnvDiff
	if o.live {
		d, err = r.DiffLive(ctx, req.a, req.services)
	} else {
		d, err = r.DiffEnvironments(ctx, req.a, req.b, req.services)
	}
	if err != nil {
		return s.explain(err)
	}
	out := o.g.streams.Out
	if o.output.Value == "json" {
		if _, err := cli.WriteData(out, "json", d); err != nil {
			return err
		}
	} else if err := writeDiff(out, d, o.g.color.Enabled(out, o.g.env.Getenv)); err != nil {
		return err
	}
	fmt.Fprintln(o.g.streams.ErrOut, diffSummary(d, req.a.Name, o.live))
	if o.exitCode && len(d.Units) > 0 {
		return cli.SilentExit(cli.ExitFailed)
	}
	return nil
}

func writeDiff(w io.Writer, d *rollout.EnvDiff, colour bool) error {
	for _, u := range d.Units {
		if u.Note != "" {
			fmt.Fprintf(w, "# %s: %s\n", u.Unit, u.Note)
		}
		text, err := diff.Unified(u.FromName, u.ToName, u.From, u.To, colour)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	return nil
}

func diffSummary(d *rollout.EnvDiff, env string, live bool) string {
	fields := 0
	for _, u := range d.Units {
		fields += len(u.Changes)
	}
	if live {
		if len(d.Units) == 0 {
			return fmt.Sprintf("%s: all %d units are live as their head data says", env, d.Compared)
		}
		return fmt.Sprintf("%s: %d of %d units have head changes that are not live (%d fields)", env, len(d.Units), d.Compared, fields)
	}
	s := fmt.Sprintf("%s → %s: ", d.From, d.To)
	if len(d.Units) == 0 {
		s += fmt.Sprintf("no differences in %d units", d.Compared)
	} else {
		s += fmt.Sprintf("%d of %d units differ (%d fields)", len(d.Units), d.Compared, fields)
	}
	return s + fmt.Sprintf("; %d fields that the model sets differently for %s and %s were ignored", d.Ignored, d.From, d.To)
}
