package cub

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const promoteExample = `  # See what dev would bring to staging
  %[1]s promote dev staging --dry-run

  # Promote and roll staging out tier by tier
  %[1]s promote dev staging

  # Merge into prod's units now, apply later (cub traderx apply prod)
  %[1]s promote staging prod --no-apply --yes`

type promoteOptions struct {
	g        *globals
	from, to traderx.Environment
	noApply  bool
	output   *cli.OutputFlag
	changeFlags
	applyFlags
}

func newPromoteCommand(g *globals) *cobra.Command {
	o := &promoteOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "promote <from> <to>",
		Short: "Merge one environment's changes into the next and roll it out",
		Long: `Checks that every unit of <to> is downstream of the same unit of <from>
(ConfigHub upstream links; refuses and names any broken link), shows per unit
the upstream change being merged, asks for confirmation on protected targets,
upgrades the units (ConfigHub merges the upstream change and keeps <to>'s own
overrides such as namespace and replicas), then applies <to> tier by tier with
health gates (unless --no-apply) and records a release "promote from <from>
(release M)". Units already at their upstream's head are left alone, so a
re-run continues an interrupted promotion.`,
		Example:           fmt.Sprintf(promoteExample, "cub traderx"),
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeTwoEnvironments,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	o.changeFlags.addTo(g, f, "Show the changes that would be merged and change nothing", "")
	f.BoolVar(&o.noApply, "no-apply", false, "Upgrade the units but do not apply them")
	o.applyFlags.addTo(f)
	o.output.AddTo(cmd)
	return cmd
}

func completeTwoEnvironments(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) >= 2 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return traderx.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
}

// Complete resolves the two environments.
func (o *promoteOptions) Complete(args []string) error {
	var err error
	if o.from, err = lookupEnvironment(args[0]); err != nil {
		return err
	}
	o.to, err = lookupEnvironment(args[1])
	return err
}

// Validate refuses a promotion into itself and checks the flags.
func (o *promoteOptions) Validate() error {
	if o.from.Name == o.to.Name {
		return cli.Usagef("cannot promote %s into itself", o.from.Name)
	}
	if err := o.output.Validate(); err != nil {
		return err
	}
	return o.applyFlags.validate()
}

// Run shows the plan, asks on a protected target, then promotes.
func (o *promoteOptions) Run(ctx context.Context) error {
	from, to := o.from, o.to
	s, err := o.g.begin(ctx, "promote", nil)
	if err != nil {
		return err
	}
	defer s.close()
	// The spaces are read once, after the chain is known to be right.
	if err := s.rollout(nil).CheckPromotion(from, to); err != nil {
		return s.explain(err)
	}
	src, err := s.space(ctx, from)
	if err != nil {
		return err
	}
	dst, err := s.space(ctx, to)
	if err != nil {
		return err
	}
	colour := o.g.color.Enabled(o.g.streams.Out, o.g.env.Getenv)
	// Show the plan first: the confirmation must come after the user has
	// seen what they confirm.
	plan, err := s.rollout(nil).Promote(ctx, src, dst, from, to, rollout.PromoteOptions{DryRun: true, Colour: colour})
	if err != nil {
		return s.explain(err)
	}
	if o.dryRun || o.output.Value != "table" {
		if err := writePromote(o.g.streams.Out, o.output.Value, plan); err != nil || o.dryRun {
			return err
		}
	} else if err := writePromote(o.g.streams.Out, "table", plan); err != nil {
		return err
	}
	if len(plan.Units) == 0 && o.noApply {
		return nil
	}
	if err := o.g.confirm(to, o.yes, false, fmt.Sprintf("Promote %s into protected environment %s", from.Name, to.Name)); err != nil {
		return err
	}
	gate, err := o.g.gate(ctx, to, !o.noApply)
	if err != nil {
		return err
	}
	ao := o.applyFlags.options(o.g)
	ao.Resume = hint.Promote(from.Name, to.Name).InProject(s.project).String()
	o.g.resume = ao.Resume
	res, err := s.rollout(gate).Promote(ctx, src, dst, from, to, rollout.PromoteOptions{NoApply: o.noApply, Apply: ao})
	if err != nil {
		return s.explain(err)
	}
	w := o.g.streams.ErrOut
	switch {
	case res.Apply != nil && res.Apply.Release != nil:
		fmt.Fprintf(w, "%s: promoted %d units from %s, applied %d; release %d recorded (%s)\n",
			to.Name, len(res.Units), from.Name, res.Apply.Applied, res.Apply.Release.Number, res.Apply.Release.Description)
	case o.noApply:
		fmt.Fprintf(w, "%s: upgraded %d units from %s; not applied: run `%s`\n", to.Name, len(res.Units), from.Name,
			hint.Apply(to.Name).InProject(s.project))

	default:
		fmt.Fprintf(w, "%s: nothing to promote from %s and nothing to apply\n", to.Name, from.Name)
	}
	return nil
}

func writePromote(w io.Writer, format string, res *rollout.PromoteResult) error {
	if done, err := cli.WriteData(w, format, res); done {
		return err
	}
	if len(res.Units) == 0 {
		_, err := fmt.Fprintf(w, "%s is up to date with %s: no upstream change to merge\n", res.To, res.From)
		return err
	}
	fmt.Fprintf(w, "Promote %s → %s: %d units take upstream changes", res.From, res.To, len(res.Units))
	if res.UpstreamRelease > 0 {
		fmt.Fprintf(w, " (%s release %d)", res.From, res.UpstreamRelease)
	}
	fmt.Fprintln(w)
	for _, u := range res.Units {
		fmt.Fprintf(w, "\n%s: upstream revision %d → %d\n%s", u.Unit, u.From, u.To, u.Diff)
	}
	return nil
}
