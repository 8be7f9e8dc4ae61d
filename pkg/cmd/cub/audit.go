package cub

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/audit"
	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const auditExample = `  # Every change to prod in the last 90 days
  %[1]s audit prod
  # Q3, one service, as a spreadsheet
  %[1]s audit prod --since 2026-07-01 --until 2026-10-01 --service trade-service -o csv > q3.csv
  # Check that the local logs are intact
  %[1]s audit verify`

// auditOptions are the flags and arguments of `audit <env>`.
type auditOptions struct {
	g        *globals
	since    string
	until    string
	services []string
	output   *cli.OutputFlag

	env  traderx.Environment
	opts rollout.AuditOptions
}

func newAuditCommand(g *globals) *cobra.Command {
	o := &auditOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "csv")}
	cmd := &cobra.Command{
		Use:   "audit <env>",
		Short: "List every change to an environment: who, what, when, approved how, applied with what result",
		Long: `Lists every change to an environment, one row per change, read from ConfigHub:
the unit revisions with their change descriptions and users, the apply events
and the releases. The revisions one run wrote are one change, joined by the
run ID every run writes into its change descriptions; the local logs in
--log-dir add what only the client saw (how a protected change was
confirmed). Columns: time, user, change description, run, approved by,
ticket, release, units@revisions, changed fields, when and how the apply
ended, and the rollback that undid the change. Read-only.

--since and --until take a date (2026-07-01), a time (RFC 3339) or an age
(90d, 12h, 30m) before now. See docs/audit.md for what is recorded where.`,
		Example:           fmt.Sprintf(auditExample, "cub traderx"),
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "90d", "Oldest change to list: a date, an RFC 3339 time or an age such as 90d")
	f.StringVar(&o.until, "until", "", "List changes before this: a date, an RFC 3339 time or an age (default: now)")
	f.StringSliceVar(&o.services, "service", nil, "Only changes to these services' units (repeatable, comma-separated)")
	_ = cmd.RegisterFlagCompletionFunc("service", cli.CompleteServices)
	o.output.AddTo(cmd)
	cmd.AddCommand(newAuditVerifyCommand(g))
	return cmd
}

// Complete resolves the environment and the time bounds.
func (o *auditOptions) Complete(args []string) error {
	env, err := traderx.LookupEnvironment(args[0])
	if err != nil {
		return cli.UsageError(err)
	}
	o.env = env
	now := o.g.env.Clock.Now()
	if o.opts.Since, err = parseWhen(o.since, now); err != nil {
		return cli.Usagef("--since: %v", err)
	}
	if o.opts.Until, err = parseWhen(o.until, now); err != nil {
		return cli.Usagef("--until: %v", err)
	}
	o.opts.Services = o.services
	return nil
}

// Validate checks the flags against each other.
func (o *auditOptions) Validate() error {
	for _, s := range o.services {
		if _, err := traderx.LookupService(s); err != nil {
			return cli.UsageError(err)
		}
	}
	if !o.opts.Since.IsZero() && !o.opts.Until.IsZero() && !o.opts.Until.After(o.opts.Since) {
		return cli.Usagef("--until (%s) must be after --since (%s)", o.opts.Until.Format(time.RFC3339), o.opts.Since.Format(time.RFC3339))
	}
	return o.output.Validate()
}

// Run reads the local logs and ConfigHub's history and writes the changes.
func (o *auditOptions) Run(ctx context.Context) error {
	s, err := o.g.open("audit")
	if err != nil {
		return err
	}
	defer s.close()
	local, err := audit.ReadRecords(o.g.logDirOrDefault())
	if err != nil {
		return cli.Unavailable(fmt.Errorf("read the local logs: %w (use --log-dir)", err))
	}
	o.opts.Local = local
	sp, err := s.space(ctx, o.env)
	if err != nil {
		return err
	}
	changes, err := s.rollout(nil).AuditTrail(ctx, sp, o.env, o.opts)
	if err != nil {
		return s.explain(err)
	}
	return writeAudit(o.g.streams.Out, o.output.Value, o.env, changes)
}

var age = regexp.MustCompile(`^(\d+)([dhm])$`)

// parseWhen reads a date, an RFC 3339 time or an age before now; "" is zero.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if m := age.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
		return now.Add(-time.Duration(n) * unit), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-07-01), an RFC 3339 time or an age (90d, 12h, 30m)", s)
}

func writeAudit(w io.Writer, format string, env traderx.Environment, changes []rollout.AuditChange) error {
	switch format {
	case "csv":
		// RFC 4180: encoding/csv quotes fields with commas, quotes and line breaks.
		cw := csv.NewWriter(w)
		if err := cw.Write(rollout.AuditColumns); err != nil {
			return err
		}
		for _, c := range changes {
			if err := cw.Write(c.Row()); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "table":
	default:
		if changes == nil {
			changes = []rollout.AuditChange{}
		}
		_, err := cli.WriteData(w, format, changes)
		return err
	}
	if len(changes) == 0 {
		_, err := fmt.Fprintf(w, "no changes to %s in that time\n", env.Name)
		return err
	}
	t := table.New("")
	t.Row("TIME", "USER", "CHANGE", "RELEASE", "UNITS", "FIELDS", "APPLIED", "RESULT", "ROLLED BACK BY", "APPROVAL")
	for _, c := range changes {
		row := c.Row()
		var approval []string
		for _, a := range []string{c.ApprovedBy, c.Ticket, c.Confirmation} {
			if a != "" {
				approval = append(approval, a)
			}
		}
		// The table names the first few units and fields; json and csv have them all.
		t.Row(when(c.Time), dash(c.User), c.Change, dash(row[6]), check.Examples(c.UnitsAt()), dash(check.ExamplesJoined(c.Fields, "; ")),
			when(c.AppliedAt), dash(c.Result), dash(c.RolledBackBy), dash(strings.Join(approval, "; ")))
	}
	return t.Render(w)
}

// auditVerifyOptions are the flags of `audit verify`.
type auditVerifyOptions struct {
	g      *globals
	output *cli.OutputFlag
}

func newAuditVerifyCommand(g *globals) *cobra.Command {
	o := &auditVerifyOptions{g: g, output: cli.NewOutputFlag("table", "table", "json")}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain of the local logs; exit 1 naming the first altered, removed or reordered record",
		Long: `Checks the run files in --log-dir: every line carries the hash of the line
before it in the directory's chain (across run files, in the order they
were written). Exits 0 when the chain is intact, 1 naming the first record
that was altered, removed or reordered. Needs no ConfigHub access and writes
nothing. Files from before chaining are listed, not judged.`,
		Example: "  cub traderx audit verify\n  cub traderx audit verify --log-dir /var/log/traderx",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.output.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.output.AddTo(cmd)
	return cmd
}

// Run verifies the directory.
func (o *auditVerifyOptions) Run() error {
	dir := o.g.logDirOrDefault()
	v, err := audit.Verify(dir)
	if err != nil {
		return cli.Unavailable(fmt.Errorf("read the logs in %s: %w (use --log-dir)", dir, err))
	}
	w := o.g.streams.Out
	if done, err := cli.WriteData(w, o.output.Value, v); done && err != nil {
		return err
	} else if !done {
		for _, f := range v.Unchained {
			fmt.Fprintf(w, "%s: written before records were chained; not checked\n", f)
		}
		switch {
		case v.Problem == nil && v.Files == 0:
			fmt.Fprintf(w, "no run files in %s: nothing to check (is --log-dir right?)\n", dir)
		case v.Problem == nil:
			fmt.Fprintf(w, "intact: %d records in %d run files of %s\n", v.Records, v.Files, dir)
		}
	}
	if v.Problem != nil {
		return cli.Failed(fmt.Errorf("%s: %s", dir, v.Problem.Message))
	}
	return nil
}
