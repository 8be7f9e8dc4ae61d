package cub

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const statusExample = `  # The units that need something first
  %[1]s status dev

  # Have the worker compare the live objects first, so DRIFT is current
  %[1]s status dev --refresh

  # Every column: tier, last applied revision, latest event
  %[1]s status staging -o wide

  # For scripts
  %[1]s status prod -o json`

type statusOptions struct {
	g       *globals
	env     traderx.Environment
	output  *cli.OutputFlag
	refresh bool
	timeout time.Duration
}

func newStatusCommand(g *globals) *cobra.Command {
	o := &statusOptions{g: g, output: cli.NewOutputFlag("table", "table", "wide", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "status <env>",
		Short: "Show each unit's head, live and last applied revision, drift and upstream lag",
		Long: `Reads the environment's ConfigHub units: head, live and last applied
revision, whether head is unapplied, drift, the latest unit event, and how
many upstream revisions are not merged yet (the upstream's head minus the
revision last merged).

By default one line per unit, the ones that need something first (drifted,
then unapplied, then behind their upstream), with the upstream named by its
environment and "+N" for the revisions not merged; -o wide adds the tier,
the last applied revision and the latest event.

Only a refresh knows drift: ConfigHub's worker reads the live objects and
compares them with what was applied. DRIFT is "drifted", "none" (at the last
refresh, which -o json dates) or "unknown" (never refreshed, or refreshed
before the last apply). --refresh has the worker compare every applied unit
first, as a dry run: nothing in ConfigHub changes. "cub traderx apply" applies
drifted units again, which repairs them.`,
		Example:           fmt.Sprintf(statusExample, "cub traderx"),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE:              runVerb(o),
	}
	o.output.AddTo(cmd)
	cmd.Flags().BoolVar(&o.refresh, "refresh", false, "have the worker compare the live objects with ConfigHub first (a dry-run refresh)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", rollout.DefaultTimeout, "how long --refresh waits for the worker")
	return cmd
}

// Complete resolves the environment.
func (o *statusOptions) Complete(args []string) error {
	var err error
	o.env, err = lookupEnvironment(args[0])
	return err
}

// Validate checks the output format.
func (o *statusOptions) Validate() error { return o.output.Validate() }

// Run reads and prints the status.
func (o *statusOptions) Run(ctx context.Context) error {
	s, err := o.g.open("status")
	if err != nil {
		return err
	}
	defer s.close()
	sp, err := s.space(ctx, o.env)
	if err != nil {
		return err
	}
	st, err := s.rollout(nil).Status(ctx, sp, o.env, rollout.StatusOptions{Refresh: o.refresh, Timeout: o.timeout})
	if err != nil {
		return s.explain(err)
	}
	return writeStatus(o.g.streams.Out, o.output.Value, st)
}

func writeStatus(w io.Writer, format string, st *rollout.EnvStatus) error {
	if done, err := cli.WriteData(w, format, st); done {
		return err
	}
	fmt.Fprintf(w, "Environment %s (space %s)\n", st.Environment, st.Space)
	// The space is <project>-<env>: suggestions must reach the same project.
	project := strings.TrimSuffix(st.Space, "-"+st.Environment)
	unapplied, behind, drifted, unknown := 0, 0, 0, 0
	for _, u := range st.Units {
		if u.Live == 0 || u.Unapplied {
			unapplied++
		}
		if u.Behind > 0 {
			behind++
		}
		switch u.Drift {
		case rollout.DriftDrifted:
			drifted++
		case rollout.DriftUnknown:
			unknown++
		}
	}
	t := table.New("")
	if format == "wide" {
		t.Row("UNIT", "TIER", "HEAD", "LIVE", "LAST-APPLIED", "SYNC", "DRIFT", "UPSTREAM", "BEHIND", "LAST-EVENT")
		for _, u := range st.Units {
			tier := strconv.Itoa(u.Tier)
			if !u.InModel {
				tier = "-"
			}
			t.Row(u.Unit, tier, fmt.Sprint(u.Head), fmt.Sprint(u.Live), fmt.Sprint(u.LastApplied), syncOf(u),
				dash(u.Drift), dash(u.Upstream), fmt.Sprint(u.Behind), dash(u.LastEvent))
		}
	} else {
		// The units that need something first, each group in apply order.
		units := slices.Clone(st.Units)
		slices.SortStableFunc(units, func(a, b rollout.UnitState) int { return cmp.Compare(urgency(a), urgency(b)) })
		t.Row("UNIT", "HEAD", "LIVE", "SYNC", "DRIFT", "UPSTREAM")
		for _, u := range units {
			live := "-"
			if u.Live > 0 {
				live = fmt.Sprint(u.Live)
			}
			t.Row(u.Unit, fmt.Sprint(u.Head), live, syncOf(u), dash(u.Drift), shortUpstream(u, project))
		}
	}
	if err := t.Render(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d units: %d with unapplied changes, %d drifted, %d behind their upstream\n",
		len(st.Units), unapplied, drifted, behind)
	env := st.Environment
	switch {
	case unapplied > 0 || drifted > 0:
		fmt.Fprintf(w, "  → apply head: %s\n", hint.Apply(env).InProject(project))
	case unknown > 0:
		fmt.Fprintf(w, "  → drift of %d units unknown: %s\n", unknown, hint.StatusRefresh(env).InProject(project))
	}
	return nil
}

// syncOf says whether head is live.
func syncOf(u rollout.UnitState) string {
	switch {
	case u.Live == 0:
		return "never applied"
	case u.Unapplied:
		return "unapplied"
	}
	return "live"
}

// urgency orders the compact view: drifted, then unapplied, then behind
// their upstream, then the rest.
func urgency(u rollout.UnitState) int {
	switch {
	case u.Drift == rollout.DriftDrifted:
		return 0
	case u.Live == 0 || u.Unapplied:
		return 1
	case u.Behind > 0:
		return 2
	}
	return 3
}

// shortUpstream names the upstream by its environment ("base", "dev") when
// it is the same unit in the project's space for it, and adds how many of
// its revisions are not merged yet.
func shortUpstream(u rollout.UnitState, project string) string {
	if u.Upstream == "" {
		return "-"
	}
	up := u.Upstream
	if space, slug, ok := strings.Cut(up, "/"); ok && slug == u.Unit && strings.HasPrefix(space, project+"-") {
		up = strings.TrimPrefix(space, project+"-")
	}
	if u.Behind > 0 {
		up += fmt.Sprintf(" +%d", u.Behind)
	}
	return up
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
