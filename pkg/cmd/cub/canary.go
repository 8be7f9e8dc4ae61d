package cub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/analysis"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const canaryExample = `  # Move trade-service in dev to 1.4.0 by 25%%, 50%%, 100%% of its replicas, 2 minutes each
  %[1]s canary trade-service 1.4.0 dev

  # Smaller steps, and a Prometheus query that must stay true at every sample
  %[1]s canary reference-data 1.4.0 prod --yes --steps 10,25,50,100 --step-duration 5m --prometheus http://prometheus.monitoring:9090 --analysis-query 'avg(probe_success{service="reference-data"}) >= bool 0.99'

  # Show the plan and the unit diffs; change nothing
  %[1]s canary position-service 1.4.0 staging --dry-run

  # Where it stands; skip the remaining steps; give up and restore the old colour
  %[1]s canary status trade-service dev
  %[1]s canary promote trade-service dev
  %[1]s canary abort trade-service dev`

// canaryOptions are the flags of `canary <service> <version> <env>`.
type canaryOptions struct {
	g *globals
	changeFlags
	retryFlags
	svc               traderx.Service
	version           string
	env               traderx.Environment
	stepsFlag         string
	steps             []int
	stepDuration      time.Duration
	analysisEvery     time.Duration
	query, prometheus string
	inconclusiveLimit int
	standby           time.Duration
	podLabels         map[string]string
}

func newCanaryCommand(g *globals) *cobra.Command {
	o := &canaryOptions{g: g}
	cmd := &cobra.Command{
		Use:   "canary <service> <version> <env>",
		Short: "Move a blue-green service to a new version step by step, by replica weight, with analysis and automatic abort",
		Long: `Moves one of the blue-green services (` + strings.Join(eligibleServices(), ", ") + `) to a
new version gradually, entirely through ConfigHub (the cluster is only read).
Without a service mesh, traffic is split by replica count:

 1. each step of --steps (percent of the active colour's replicas, rounded up,
    at least one pod) is a unit edit plus apply: the standby colour's
    Deployment unit gets the image ghcr.io/finos/traderx/<service>:<version>
    and the step's replicas and is waited for; the Service unit's selector
    drops the colour, so the Service selects both colours; the old colour's
    unit is scaled to the rest (at least one pod); the EndpointSlices must
    then split as planned. The last step, 100, selects the new colour alone
    (the old one keeps its pods, unselected);
 2. each step is analysed for --step-duration, every --analysis-interval:
    the new colour's pods ready without restarts, crash loops or image pull
    errors, the endpoints still split as planned and, with --analysis-query
    and --prometheus, the PromQL query true (at least one sample, none zero).
    A Prometheus that does not answer is inconclusive; more than
    --inconclusive-limit inconclusive samples in a row fail the step;
 3. a failure aborts automatically: the old colour gets its replicas back
    and is selected alone, the new colour goes to zero; exit 1 with the
    reason; no release is recorded;
 4. after the last step release N is recorded ("canary <service> <version>");
    the old colour stays up for --standby, then its unit is scaled to zero.

The run is recorded on the Service unit's ConfigHub annotations
(traderx.finos.org/canary-*). Re-running an interrupted canary with the same
version resumes it at the recorded step (its analysis starts over);
'canary promote' skips the remaining steps; 'canary abort' restores the old
colour. Protected environments need --yes or a confirmation at a terminal.`,
		Example:           fmt.Sprintf(canaryExample, "cub traderx"),
		Args:              cobra.ExactArgs(3),
		ValidArgsFunction: completeBlueGreenArgs,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	o.changeFlags.addTo(g, f, "Print the plan and the unit diffs; change nothing", "")
	f.StringVar(&o.stepsFlag, "steps", rollout.DefaultCanarySteps, "The new colour's share of the active replica count at each step, in percent, increasing, ending at 100")
	f.DurationVar(&o.stepDuration, "step-duration", rollout.DefaultStepDuration, "How long each step is analysed (0: one sample)")
	f.DurationVar(&o.analysisEvery, "analysis-interval", rollout.DefaultAnalysisInterval, "How often a step's analysis samples the cluster and the query")
	f.StringVar(&o.query, "analysis-query", "", "A PromQL query that must stay true at every sample (needs --prometheus)")
	f.StringVar(&o.prometheus, "prometheus", "", "URL of the Prometheus-compatible server the analysis query is asked (GET <url>/api/v1/query)")
	f.IntVar(&o.inconclusiveLimit, "inconclusive-limit", rollout.DefaultInconclusiveLimit, "How many inconclusive analysis queries in a row are tolerated; one more fails the step")
	f.DurationVar(&o.standby, "standby", rollout.DefaultStandby, "How long the old colour stays up after the last step before it is scaled to zero")
	o.retryFlags.addTo(f)
	setUsage(f, "timeout", "How long each apply, the colours becoming ready and the endpoints following may take")
	setUsage(f, "retries", "Retries of a failed apply or unreadable cluster")
	f.StringToStringVar(&o.podLabels, "pod-label", nil, "Extra label on the new colour's pod template, key=value (simulation aid: "+
		"sim.traderx.finos.org/state=crashloop makes the local test cluster crash-loop the new pods)")
	cmd.AddCommand(newCanaryStatusCommand(g), newCanaryPromoteCommand(g), newCanaryAbortCommand(g))
	return cmd
}

// Complete resolves the arguments.
func (o *canaryOptions) Complete(args []string) error {
	o.version = args[1]
	var err error
	if o.svc, o.env, err = lookupBlueGreen(args[0], args[2]); err != nil {
		return err
	}
	if o.steps, err = rollout.ParseSteps(o.stepsFlag); err != nil {
		return cli.Usagef("--steps: %v", err)
	}
	return nil
}

// Validate checks the input before anything is read.
func (o *canaryOptions) Validate() error {
	if err := rollout.ValidateVersion(o.version); err != nil {
		return cli.UsageError(err)
	}
	if err := checkDurations(map[string]time.Duration{"--step-duration": o.stepDuration, "--standby": o.standby},
		map[string]time.Duration{"--analysis-interval": o.analysisEvery}); err != nil {
		return err
	}
	if err := o.retryFlags.validate(); err != nil {
		return err
	}
	if o.inconclusiveLimit < 0 {
		return cli.Usagef("--inconclusive-limit must be 0 or more, got %d", o.inconclusiveLimit)
	}
	if (o.query == "") != (o.prometheus == "") {
		return cli.Usagef("--analysis-query and --prometheus go together")
	}
	return nil
}

// Run performs the canary.
func (o *canaryOptions) Run(ctx context.Context) error {
	s, err := o.g.begin(ctx, "canary", func() error {
		return o.confirm(o.g, o.env, fmt.Sprintf("Move %s to %s by canary in protected environment %s", o.svc.Name, o.version, o.env.Name))
	})
	if err != nil {
		return err
	}
	defer s.close()
	sp, err := s.space(ctx, o.env)
	if err != nil {
		return err
	}
	opts := rollout.CanaryOptions{Service: o.svc, Version: o.version, Steps: o.steps, StepDuration: orNone(o.stepDuration),
		AnalysisInterval: o.analysisEvery, InconclusiveLimit: o.inconclusiveLimit, Standby: orNone(o.standby), Timeout: o.timeout,
		PollInterval: o.g.env.PollInterval, Retries: o.retriesOrNone(), RetryDelay: o.retryDelay, DryRun: o.dryRun, ExtraPodLabels: o.podLabels}
	if o.inconclusiveLimit == 0 {
		opts.InconclusiveLimit = -1 // rollout reads 0 as the default; any inconclusive sample fails
	}
	if o.query != "" {
		opts.Analysis = analysis.Query{URL: o.prometheus, Expr: o.query}
	}
	if !o.dryRun {
		client, err := o.g.cluster(ctx, o.env)
		if err != nil {
			return err
		}
		opts.Cluster = SnapshotReader{Client: client}
	}
	res, err := s.rollout(nil).Canary(ctx, sp, o.env, opts)
	if err != nil {
		s.log.Logger().Info("log: " + s.log.Path())
		var ce *rollout.CanaryError
		if errors.As(err, &ce) && (ce.Aborted || ce.AbortErr != nil && !rollout.IsUnreachable(ce.AbortErr)) {
			return cli.Failed(err)
		}
		return s.explain(err)
	}
	out := o.g.streams.Out
	switch {
	case res.NothingToDo:
		fmt.Fprintf(out, "%s: %s already serves %s from %s; nothing changed\n", o.env.Name, o.svc.Name, o.version, res.From)
	case res.DryRun:
		if err := o.writePlan(out, res); err != nil {
			return err
		}
	default:
		how := fmt.Sprintf("in %d step(s)", len(res.Steps))
		if res.Promoted {
			how = "promoted before its last step"
		}
		fmt.Fprintf(out, "%s: %s serves %s from %s (%d replicas), %s; %s is at zero; release %d recorded (tag %s)\n",
			o.env.Name, o.svc.Name, o.version, res.To, res.Replicas, how, res.From, res.Release.Number, res.Release.Tag)
	}
	s.log.Logger().Info("log: " + s.log.Path())
	return nil
}

func (o *canaryOptions) writePlan(w io.Writer, res *rollout.CanaryResult) error {
	colour := o.g.color.Enabled(w, o.g.env.Getenv)
	fmt.Fprintf(w, "dry run: canary %s %s in %s: %s → %s, %d replica(s); nothing changed\n", res.Service, res.Version, res.Environment, res.From, res.To, res.Replicas)
	for i, st := range res.Steps {
		line := fmt.Sprintf("%s %d, %s %d, the Service selects both (%d%% of the endpoints %s)", res.To, st.New, res.From, st.Old, st.Share(), res.To)
		if st.Percent >= 100 {
			line = fmt.Sprintf("%s %d, selected alone", res.To, st.New)
		}
		fmt.Fprintf(w, "  step %d (%d%%): %s; analysed for %s\n", i+1, st.Percent, line, o.stepDuration)
	}
	fmt.Fprintf(w, "  then: record a release \"canary %s %s\", keep %s up for %s, scale it to zero\n", res.Service, res.Version, res.From, o.standby)
	fmt.Fprintf(w, "  a failed step aborts: %s back to %d and selected alone, %s to zero\n", res.From, res.Replicas, res.To)
	for _, e := range res.Plan {
		if !e.Changed {
			fmt.Fprintf(w, "\n%s, %s: no change\n", e.When, e.Unit)
			continue
		}
		d, err := diff.Unified(fmt.Sprintf("%s@%d", e.Unit, e.FromRevision), fmt.Sprintf("%s (%s)", e.Unit, e.When), e.Before, e.After, colour)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n%s", d)
	}
	return nil
}

type canaryStatusOptions struct {
	g *globals
	blueGreenTarget
	output *cli.OutputFlag
}

func newCanaryStatusCommand(g *globals) *cobra.Command {
	o := &canaryStatusOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "status <service> <env>",
		Short: "Show a canary's step, weights, analysis and time left, with both colours' units and live state",
		Long: `Shows what 'blue-green status' shows (both colours' units in ConfigHub and,
read-only, their Deployments and the live Service) and, when a canary is
recorded on the Service unit: its step, the replicas of each colour the step
plans, the live split of the ready endpoints, the last analysis verdict and
the time left of the step's analysis.`,
		Example:           "  cub traderx canary status trade-service dev\n  cub traderx canary status reference-data prod -o json",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeServiceThenEnv,
		RunE:              runVerb(o),
	}
	o.output.AddTo(cmd)
	return cmd
}

// Validate checks the output format.
func (o *canaryStatusOptions) Validate() error { return o.output.Validate() }

// Run prints the status.
func (o *canaryStatusOptions) Run(ctx context.Context) error {
	s, sp, err := o.g.openStatus(ctx, "canary-status", o.env)
	if err != nil {
		return err
	}
	defer s.close()
	v, err := s.rollout(nil).CanaryStatus(ctx, sp, o.env, o.svc, s.statusReader(ctx, o.env))
	if err != nil {
		return s.explain(err)
	}
	w := o.g.streams.Out
	if done, err := cli.WriteData(w, o.output.Value, v); done {
		return err
	}
	if err := writeBlueGreenStatus(w, o.output.Value, v.BlueGreenState); err != nil {
		return err
	}
	return writeCanaryStatus(w, v)
}

func writeCanaryStatus(w io.Writer, v *rollout.CanaryView) error {
	run := v.Canary
	if run == nil {
		_, err := fmt.Fprintln(w, "canary: none recorded")
		return err
	}
	to := traderx.OtherColour(run.Previous)
	fmt.Fprintf(w, "canary: to %s from %s, started %s, steps %s%%\n", run.Version, run.Previous, dash(run.Started), rollout.FormatSteps(run.Steps))
	if st := v.Step; st != nil {
		weights := fmt.Sprintf("%s %d replica(s), %s %d, both selected (%d%% of the endpoints %s)", to, st.New, run.Previous, st.Old, st.Share(), to)
		if st.Percent >= 100 {
			weights = fmt.Sprintf("%s %d replica(s), selected alone", to, st.New)
		}
		fmt.Fprintf(w, "  step:      %d/%d (%d%%): %s\n", run.Step, len(run.Steps), st.Percent, weights)
	} else {
		fmt.Fprintf(w, "  phase:     %s\n", run.Phase)
	}
	if v.LiveSplit != "" {
		fmt.Fprintf(w, "  live:      ready endpoints %s\n", v.LiveSplit)
	}
	if v.Step != nil {
		left := "analysis not started"
		if run.StepStarted != "" {
			left = v.TimeLeft.String()
		}
		fmt.Fprintf(w, "  analysis:  %s; time left %s\n", dash(run.Analysis), left)
	}
	if run.Promote != "" {
		fmt.Fprintf(w, "  promote:   requested by %s\n", run.Promote)
	}
	_, err := fmt.Fprintf(w, "  if no canary runs: resume with `%s`, or `%s`\n", hint.Canary(v.Service, run.Version, v.Environment), hint.CanaryAbort(v.Service, v.Environment))
	return err
}

type canaryPromoteOptions struct {
	g *globals
	blueGreenTarget
	changeFlags
}

func newCanaryPromoteCommand(g *globals) *cobra.Command {
	o := &canaryPromoteOptions{g: g}
	cmd := &cobra.Command{
		Use:   "promote <service> <env>",
		Short: "Ask a running canary to skip its remaining steps",
		Long: `Records on the Service unit that the canary of the service should skip its
remaining steps. The running canary sees the request at its next analysis
sample and goes to the last step (the new colour selected alone), records the
release and retires the old colour after its standby. When no canary process
runs any more, re-run the canary command: it resumes and goes straight to the
last step. Nothing else is changed here.`,
		Example:           "  cub traderx canary promote trade-service dev",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeServiceThenEnv,
		RunE:              runVerb(o),
	}
	o.changeFlags.addTo(g, cmd.Flags(), "", "")
	return cmd
}

// Validate has nothing to check beyond the arguments.
func (o *canaryPromoteOptions) Validate() error { return nil }

// Run records the request.
func (o *canaryPromoteOptions) Run(ctx context.Context) error {
	s, err := o.g.begin(ctx, "canary-promote", func() error {
		return o.g.confirm(o.env, o.yes, false, fmt.Sprintf("Promote the canary of %s in protected environment %s", o.svc.Name, o.env.Name))
	})
	if err != nil {
		return err
	}
	defer s.close()
	sp, err := s.space(ctx, o.env)
	if err != nil {
		return err
	}
	run, err := s.rollout(nil).CanaryPromote(ctx, sp, o.env, o.svc)
	if err != nil {
		return s.explain(err)
	}
	fmt.Fprintf(o.g.streams.Out, "%s: promote of the canary of %s to %s recorded (at step %d/%d); the running canary skips to the last step at its next sample; if none runs, resume it with `%s`\n",
		o.env.Name, o.svc.Name, run.Version, run.Step, len(run.Steps), hint.Canary(o.svc.Name, run.Version, o.env.Name))
	return nil
}

func newCanaryAbortCommand(g *globals) *cobra.Command {
	return newColourAbortCommand(&colourAbortOptions{g: g, verb: "canary", abort: (*rollout.Rollout).CanaryAbort}, &cobra.Command{
		Use:   "abort <service> <env>",
		Short: "End a canary: the old colour back to full replicas and selected alone, the new one at zero",
		Long: `Ends the unfinished canary of the service through ConfigHub. Before its last
step has passed, the colour that served before gets its replicas back and is
selected alone, and the new colour's unit is scaled to zero; after it (release
recorded, old colour on standby) the new colour stays and the old one is scaled
to zero. The run's annotations are removed; no release is recorded. A canary
still running elsewhere stops at its next analysis sample.`,
		Example: "  cub traderx canary abort trade-service dev\n  cub traderx canary abort trade-service prod --yes",
	})
}
