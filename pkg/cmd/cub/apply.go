package cub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const applyExample = `  # Roll dev out tier by tier, verifying health after each tier
  %[1]s apply dev

  # Only two services, with a description for the release
  %[1]s apply staging --services trade-service,position-service --change-desc "fix pricing"

  # Production is protected: confirm interactively, or pass --yes in scripts
  %[1]s apply prod --yes`

type applyOptions struct {
	g         *globals
	env       traderx.Environment
	services  []string
	noRefresh bool
	changeFlags
	applyFlags
}

func newApplyCommand(g *globals) *cobra.Command {
	o := &applyOptions{g: g}
	cmd := &cobra.Command{
		Use:   "apply <env>",
		Short: "Apply an environment's units through ConfigHub, tier by tier, with health gates",
		Long: `Applies the environment's ConfigHub units in dependency order: the namespace,
then the network policies with the first service tier, then each service tier,
the ingress last. The units of a tier are applied together and each apply is
waited for; then the services the tier changed, and its unchanged services
that depend on a change, must become HEALTHY or DEGRADED within --timeout;
tiers with neither are not gated. What changed must then stay so, without a
break, for --settle; a tier that depends on it waits for that, the others go
on meanwhile, and a break stops the run. Last,
the whole environment must be HEALTHY or DEGRADED, also when nothing was
applied.
Failed applies and unreadable health checks are retried
(--retries, backoff from --retry-delay doubling). The first failing tier stops
the run with a report and the command that resumes it; a re-run skips units
already live at their head revision.

A run that applied anything records release N of the environment: a ConfigHub
tag release-N on the live revision of every unit, with the description, user
and time. Protected environments (prod) need --yes or a confirmation at a
terminal; without a terminal the command refuses to prompt.`,
		Example:           fmt.Sprintf(applyExample, "cub traderx"),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.services, "services", nil, "Only these services' units, comma-separated (default: every unit)")
	o.changeFlags.addTo(g, f, "Print which units would be applied and change nothing", "Description of the change, recorded on the release")
	f.BoolVar(&o.noRefresh, "no-refresh", false, "Do not check the units live at head for drift (by default a dry-run refresh finds them and they are applied again)")
	o.applyFlags.addTo(f)
	_ = cmd.RegisterFlagCompletionFunc("services", cli.CompleteServices)
	return cmd
}

// Complete resolves the environment.
func (o *applyOptions) Complete(args []string) error {
	var err error
	o.env, err = lookupEnvironment(args[0])
	return err
}

// Validate checks the services and the apply tuning.
func (o *applyOptions) Validate() error {
	if _, err := traderx.LookupServices(o.services); err != nil {
		return cli.UsageError(err)
	}
	return o.applyFlags.validate()
}

// Run applies the environment and prints the summary.
func (o *applyOptions) Run(ctx context.Context) error {
	env := o.env
	start := o.g.env.Clock.Now()
	s, err := o.g.begin(ctx, "apply", func() error {
		return o.confirm(o.g, env, fmt.Sprintf("Apply to protected environment %s", env.Name))
	})
	if err != nil {
		return err
	}
	defer s.close()
	gate, err := o.g.gate(ctx, env, !o.dryRun)
	if err != nil {
		return err
	}
	opts := o.applyFlags.options(o.g)
	opts.Services, opts.ChangeDesc, opts.DryRun, opts.Resume = o.services, o.changeDesc, o.dryRun,
		hint.Apply(env.Name, o.services...).InProject(s.project).String()
	opts.NoRefresh = o.noRefresh
	o.g.resume = opts.Resume
	res, err := s.rollout(gate).Apply(ctx, env, opts)
	if err != nil {
		var te *rollout.TierError
		// An interrupted tier did not fail: its report would only say so.
		if errors.As(err, &te) && ctx.Err() == nil {
			for _, l := range te.Report() {
				s.log.Logger().Error(l)
			}
			s.log.Logger().Info("log: " + s.log.Path())
		}
		return s.explain(err)
	}
	writeApplySummary(o.g.streams.Out, env.Name, res, o.g.env.Clock.Now().Sub(start))
	s.log.Logger().Info("log: " + s.log.Path())
	return nil
}

// writeApplySummary is the paragraph an apply ends with, on stdout.
func writeApplySummary(out io.Writer, env string, res *rollout.ApplyResult, took time.Duration) {
	switch {
	case res.DryRun:
		n := 0
		for _, t := range res.Tiers {
			for _, u := range t.Units {
				if u.Outcome == rollout.UnitPlanned {
					n++
				}
			}
		}
		fmt.Fprintf(out, "dry run: %s: %d units would be applied, %d are live at head; nothing changed\n", env, n, res.Skipped)
	case res.Applied == 0:
		fmt.Fprintf(out, "%s: nothing to apply: all %d units are live at head; health verified; no release recorded\n", env, res.Skipped)

	default:
		rel := ""
		if res.Release != nil {
			rel = fmt.Sprintf("; release %d recorded (tag %s)", res.Release.Number, res.Release.Tag)
		}
		fmt.Fprintf(out, "%s: applied %d units, %d already live, %d tiers healthy in %s%s\n", env, res.Applied, res.Skipped, len(res.Tiers),
			took.Round(time.Second), rel)
	}
}
