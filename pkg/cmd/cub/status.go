package cub

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

type statusOptions struct {
	g       *globals
	output  *cli.OutputFlag
	refresh bool
	timeout time.Duration
}

func newStatusCommand(g *globals) *cobra.Command {
	o := &statusOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "status <env>",
		Short: "Show each unit's head, live and last applied revision, drift and upstream lag",
		Long: `Reads the environment's ConfigHub units: head, live and last applied
revision, whether head is unapplied, drift, the latest unit event, and how
many upstream revisions are not merged yet (the upstream's head minus the
revision last merged).

Only a refresh knows drift: ConfigHub's worker reads the live objects and
compares them with what was applied. DRIFT is "drifted", "none" (at the last
refresh, which -o json dates) or "unknown" (never refreshed, or refreshed
before the last apply). --refresh has the worker compare every applied unit
first, as a dry run: nothing in ConfigHub changes. "cub traderx apply" applies
drifted units again, which repairs them.`,
		Example:           "  cub traderx status dev\n  cub traderx status dev --refresh\n  cub traderx status prod -o json",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0])
		},
	}
	o.output.AddTo(cmd)
	cmd.Flags().BoolVar(&o.refresh, "refresh", false, "have the worker compare the live objects with ConfigHub first (a dry-run refresh)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", rollout.DefaultTimeout, "how long --refresh waits for the worker")
	return cmd
}

func (o *statusOptions) run(ctx context.Context, name string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	env, err := traderx.LookupEnvironment(name)
	if err != nil {
		return cli.UsageError(err)
	}
	if err := o.output.Validate(); err != nil {
		return err
	}
	s, err := o.g.open("status")
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.rollout(nil).Status(ctx, env, rollout.StatusOptions{Refresh: o.refresh, Timeout: o.timeout})
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
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tTIER\tHEAD\tLIVE\tLAST-APPLIED\tSYNC\tDRIFT\tUPSTREAM\tBEHIND\tLAST-EVENT")
	unapplied, behind, drifted := 0, 0, 0
	for _, u := range st.Units {
		sync := "live"
		switch {
		case u.Live == 0:
			sync = "never applied"
			unapplied++
		case u.Unapplied:
			sync = "unapplied"
			unapplied++
		}
		tier := strconv.Itoa(u.Tier)
		if !u.InModel {
			tier = "-"
		}
		up := u.Upstream
		if up == "" {
			up = "-"
		}
		if u.Behind > 0 {
			behind++
		}
		if u.Drift == rollout.DriftDrifted {
			drifted++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t%s\n", u.Unit, tier, u.Head, u.Live, u.LastApplied, sync,
			dash(u.Drift), up, u.Behind, dash(u.LastEvent))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d units: %d with unapplied changes, %d drifted, %d behind their upstream\n",
		len(st.Units), unapplied, drifted, behind)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
