package cub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const rollbackExample = `  # Back to the release before the latest (see: cub traderx history prod)
  %[1]s rollback prod --yes

  # Back to release 5
  %[1]s rollback prod 5 --yes

  # Only trade-service's units, and only show what would happen
  %[1]s rollback prod 5 --services trade-service --dry-run`

type rollbackOptions struct {
	g   *globals
	env traderx.Environment
	// release is the release to restore (0: the previous one).
	release  int
	services []string
	output   *cli.OutputFlag
	changeFlags
	applyFlags
}

func newRollbackCommand(g *globals) *cobra.Command {
	o := &rollbackOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "rollback <env> [release]",
		Short: "Restore an environment to a recorded release and verify its health",
		Long: `Restores every unit of a recorded release — Deployments, Services, ingress,
network policies and namespace — as a new head revision carrying the
release's data (so a later apply cannot bring the bad revision back), then
applies them in reverse dependency order with a health gate per tier, and
judges the whole environment. Without a release number: the previous release —
the latest one when the environment changed since it (a failed apply records
no release), else the one before it. --services rolls back only those services' units.

Units already holding the release's data are not restored again: re-running an
interrupted rollback completes it. Exit 0 only when the environment is HEALTHY
or DEGRADED afterwards; a rollback that applied anything records a release
"rollback to N".`,
		Example:           fmt.Sprintf(rollbackExample, "cub traderx"),
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.services, "services", nil, "Only these services' units (partial rollback)")
	o.changeFlags.addTo(g, f, "Show unit: current revision → target revision and change nothing", "")
	_ = cmd.RegisterFlagCompletionFunc("services", cli.CompleteServices)
	o.applyFlags.addTo(f)
	o.output.AddTo(cmd)
	return cmd
}

// Complete resolves the environment and the release number.
func (o *rollbackOptions) Complete(args []string) error {
	var err error
	if o.env, err = lookupEnvironment(args[0]); err != nil {
		return err
	}
	if len(args) == 2 {
		if o.release, err = strconv.Atoi(args[1]); err != nil || o.release < 1 {
			return cli.Usagef("release must be a positive number, got %q (see `%s`)", args[1], hint.History(o.env.Name))
		}
	}
	return nil
}

// Validate checks the services and the flags.
func (o *rollbackOptions) Validate() error {
	if _, err := traderx.LookupServices(o.services); err != nil {
		return cli.UsageError(err)
	}
	if err := o.output.Validate(); err != nil {
		return err
	}
	return o.applyFlags.validate()
}

// Run restores the release and judges the environment.
func (o *rollbackOptions) Run(ctx context.Context) error {
	env, n := o.env, o.release
	s, err := o.g.begin(ctx, "rollback", func() error {
		return o.confirm(o.g, env, fmt.Sprintf("Roll back protected environment %s", env.Name))
	})
	if err != nil {
		return err
	}
	defer s.close()
	gate, err := o.g.gate(ctx, env, !o.dryRun)
	if err != nil {
		return err
	}
	ao := o.applyFlags.options(o.g)
	res, err := s.rollout(gate).Rollback(ctx, env, rollout.RollbackOptions{Release: n, Services: o.services, DryRun: o.dryRun, Apply: ao})
	var re *rollout.RollbackError
	if errors.As(err, &re) {
		// Say exactly where it stopped before the error: what was restored
		// and applied is the state a re-run starts from.
		_ = writeRollback(o.g.streams.Out, "table", re.Result)
		fmt.Fprintf(o.g.streams.ErrOut, "rollback stopped part way; re-run `%s` to complete it\n",
			hint.Rollback(env.Name, re.Result.Target.Number, o.services...).InProject(s.project))
	}
	if err != nil {
		return s.explain(err)
	}
	if err := writeRollback(o.g.streams.Out, o.output.Value, res); err != nil {
		return err
	}
	if !res.DryRun && res.Verdict == check.VerdictUnhealthy {
		return cli.Failed(fmt.Errorf("%s is UNHEALTHY after the rollback to release %d: %s (run `%s`)",
			env.Name, res.Target.Number, res.Reason, hint.Health(env.Name)))

	}
	return nil
}

func writeRollback(w io.Writer, format string, res *rollout.RollbackResult) error {
	if done, err := cli.WriteData(w, format, res); done {
		return err
	}
	mode := ""
	if res.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "Rollback of %s to release %d — %s%s\n", res.Environment, res.Target.Number, res.Target.Description, mode)
	t := table.New("")
	t.Row("UNIT", "REVISION", "RESULT", "APPLIED")
	for _, u := range res.Units {
		rev := fmt.Sprintf("%d → %d", u.From, u.To)
		if u.NewHead > 0 {
			rev += fmt.Sprintf(" (new head %d)", u.NewHead)
		}
		t.Row(u.Unit, rev, u.Outcome, dash(u.Applied))
	}
	if err := t.Render(w); err != nil {
		return err
	}

	if res.Verdict != "" {
		fmt.Fprintf(w, "Health after rollback: %s — %s\n", res.Verdict, res.Reason)
	}
	if res.Apply != nil && res.Apply.Release != nil {
		fmt.Fprintf(w, "Recorded release %d (%s)\n", res.Apply.Release.Number, res.Apply.Release.Description)
	}
	return nil
}
