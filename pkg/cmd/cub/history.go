package cub

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

type historyOptions struct {
	g   *globals
	env traderx.Environment
	// service is the optional [service] argument (nil: the releases).
	service *traderx.Service
	max     int
	output  *cli.OutputFlag
}

func newHistoryCommand(g *globals) *cobra.Command {
	o := &historyOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "history <env> [service]",
		Short: "List an environment's releases, or a service's unit revisions",
		Long: `Lists the releases recorded for an environment (like helm history): number,
time, user, description and the units whose revision changed since the release
before. With a service: the revisions of that service's units, with the
releases each belongs to. Read-only.`,
		Example:           "  cub traderx history prod\n  cub traderx history prod trade-service --max 10\n  cub traderx history staging -o json",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: completeEnvThenService,
		RunE:              runVerb(o),
	}
	cmd.Flags().IntVar(&o.max, "max", 0, "Show at most this many entries, newest first (0: all)")
	o.output.AddTo(cmd)
	return cmd
}

// completeEnvThenService completes an environment, then a service.
func completeEnvThenService(cmd *cobra.Command, args []string, s string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 1 {
		return cli.CompleteServices(cmd, args, s)
	}
	return cli.CompleteEnvironments(cmd, args, s)
}

// Complete resolves the environment and the optional service.
func (o *historyOptions) Complete(args []string) error {
	var err error
	if o.env, err = lookupEnvironment(args[0]); err != nil {
		return err
	}
	if len(args) == 2 {
		svc, err := traderx.LookupService(args[1])
		if err != nil {
			return cli.UsageError(err)
		}
		o.service = &svc
	}
	return nil
}

// Validate checks the flags.
func (o *historyOptions) Validate() error {
	if o.max < 0 {
		return cli.Usagef("--max must be 0 or more, got %d", o.max)
	}
	return o.output.Validate()
}

// Run lists the releases, or the service's unit revisions.
func (o *historyOptions) Run(ctx context.Context) error {
	s, err := o.g.open("history")
	if err != nil {
		return err
	}
	defer s.close()
	r := s.rollout(nil)
	w := o.g.streams.Out
	if o.service != nil {
		revs, err := r.ServiceHistory(ctx, o.env, o.service.Name, o.max)
		if err != nil {
			return s.explain(err)
		}
		return writeServiceHistory(w, o.output.Value, o.env, o.service.Name, revs)
	}
	rels, err := r.History(ctx, o.env, o.max)
	if err != nil {
		return s.explain(err)
	}
	return writeHistory(w, o.output.Value, o.env, rels)
}

func writeHistory(w io.Writer, format string, env traderx.Environment, rels []rollout.ReleaseInfo) error {
	if done, err := cli.WriteData(w, format, rels); done {
		return err
	}
	if len(rels) == 0 {
		_, err := fmt.Fprintf(w, "%s has no releases yet: every successful `%s` records one\n", env.Name, hint.Apply(env.Name))

		return err
	}
	t := table.New("")
	t.Row("RELEASE", "TIME", "USER", "DESCRIPTION", "UNITS CHANGED")
	for _, r := range rels {
		t.Row(fmt.Sprint(r.Number), when(r.Time), dash(r.User), r.Description, dash(check.Examples(r.Changed)))
	}
	return t.Render(w)
}

func writeServiceHistory(w io.Writer, format string, env traderx.Environment, service string, revs []rollout.UnitRevision) error {
	if done, err := cli.WriteData(w, format, revs); done {
		return err
	}
	fmt.Fprintf(w, "Revisions of %s's units in %s\n", service, env.Name)
	t := table.New("")
	t.Row("UNIT", "REVISION", "TIME", "RELEASES", "STATE", "DESCRIPTION")
	for _, r := range revs {
		var rel []string
		for _, n := range r.Releases {
			rel = append(rel, fmt.Sprint(n))
		}
		var state []string
		if r.Head {
			state = append(state, "head")
		}
		if r.Live {
			state = append(state, "live")
		}
		t.Row(r.Unit, fmt.Sprint(r.Revision), when(r.Time), dash(strings.Join(rel, ",")),
			dash(strings.Join(state, ",")), r.Description)
	}
	return t.Render(w)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
