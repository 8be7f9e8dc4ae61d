package cub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/table"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const blueGreenExample = `  # Switch trade-service in dev to 1.4.0 on the standby colour, soak, then retire the old colour
  %[1]s blue-green trade-service 1.4.0 dev

  # Show the plan and the unit diffs; change nothing
  %[1]s blue-green reference-data 1.4.0 prod --dry-run

  # Production, in CI: confirm with --yes; probe /health through the API server after the switch
  %[1]s blue-green position-service 1.4.0 prod --yes --probe --soak 10m

  # Where a service stands; bring an interrupted run to a consistent state
  %[1]s blue-green status trade-service prod
  %[1]s blue-green abort trade-service prod --yes`

// blueGreenOptions are the flags of `blue-green <service> <version> <env>`.
type blueGreenOptions struct {
	g               *globals
	svc             traderx.Service
	version         string
	env             traderx.Environment
	probe           bool
	soak, soakEvery time.Duration
	standby         time.Duration
	podLabels       map[string]string
	changeFlags
	applyFlags
}

func newBlueGreenCommand(g *globals) *cobra.Command {
	o := &blueGreenOptions{g: g}
	cmd := &cobra.Command{
		Use:   "blue-green <service> <version> <env>",
		Short: "Switch a blue-green service to a new version with validation, soak and automatic rollback",
		Long: `Switches one of the blue-green services (` + strings.Join(eligibleServices(), ", ") + `) to a
new version, entirely through ConfigHub (the cluster is only read):

 1. deploy: the standby colour's Deployment unit gets the image
    ghcr.io/finos/traderx/<service>:<version> and the active colour's replicas;
    it is applied and waited for (the active colour is the one the Service
    unit's selector names, read from ConfigHub);
 2. validate: every new-colour pod ready, no restarts, crash loops or image
    pull errors, staying so for --settle;
 3. switch: the Service unit's selector moves to the new colour and is
    applied; the EndpointSlices must then list only new-colour pods. With
    --probe the service's HTTP health endpoint is fetched through the API
    server's service proxy (it reaches only new-colour pods by then);
 4. soak: the new colour is watched for --soak, every --soak-interval; any
    restart, not-ready pod or crash loop fails it;
 5. a failure in 1-4 rolls back automatically: the selector returns to the
    old colour (endpoints verified), the new colour's unit is scaled to zero;
    exit 1 with the reason, also in the run's log;
 6. after a successful soak release N is recorded ("blue-green <service>
    <version>: <old> → <new>"); the old colour stays up for --standby, then its
    unit is scaled to zero. (There is no --delete-old: the standby colour's
    unit is what the next switch deploys into, and ConfigHub's worker would
    leave the objects of a deleted unit in the cluster; zero replicas stops
    every old pod.)

The run is recorded on the Service unit's ConfigHub annotations
(traderx.finos.org/blue-green-previous, -version, -phase). Re-running an
interrupted run with the same version resumes it (every phase is a no-op when
already done); 'blue-green abort' brings it to a consistent state instead.
Protected environments need --yes or a confirmation at a terminal.`,
		Example:           fmt.Sprintf(blueGreenExample, "cub traderx"),
		Args:              cobra.ExactArgs(3),
		ValidArgsFunction: completeBlueGreenArgs,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	o.changeFlags.addTo(g, f, "Print the plan and the unit diffs; change nothing", "")
	o.applyFlags.addTo(f)
	setUsage(f, "settle", "How long the new colour must stay ready before traffic switches (0: at the first ready check)")
	setUsage(f, "timeout", "How long each apply, the new colour becoming ready and the endpoints following may take")
	setUsage(f, "retries", "Retries of a failed apply or unreadable cluster")
	f.BoolVar(&o.probe, "probe", false, "After the switch, GET the service's health endpoint through the API server's service proxy; a failure rolls back")
	f.DurationVar(&o.soak, "soak", rollout.DefaultSoak, "How long to watch the new colour after the switch (0: no soak)")
	f.DurationVar(&o.soakEvery, "soak-interval", rollout.DefaultSoakInterval, "How often the soak reads the cluster")
	f.DurationVar(&o.standby, "standby", rollout.DefaultStandby, "How long the old colour stays up after a successful soak before it is scaled to zero")
	f.StringToStringVar(&o.podLabels, "pod-label", nil, "Extra label on the new colour's pod template, key=value (simulation aid: "+
		"sim.traderx.finos.org/state=crashloop makes the local test cluster crash-loop the new pods)")
	cmd.AddCommand(newBlueGreenStatusCommand(g), newBlueGreenAbortCommand(g))
	return cmd
}

func eligibleServices() []string {
	var out []string
	for _, s := range traderx.Services() {
		if s.BlueGreen {
			out = append(out, s.Name)
		}
	}
	return out
}

func completeBlueGreenArgs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return eligibleServices(), cobra.ShellCompDirectiveNoFileComp
	case 2:
		return traderx.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func completeServiceThenEnv(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return eligibleServices(), cobra.ShellCompDirectiveNoFileComp
	case 1:
		return traderx.EnvironmentNames(), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// Complete resolves the service and the environment.
func (o *blueGreenOptions) Complete(args []string) error {
	var err error
	o.version = args[1]
	o.svc, o.env, err = lookupBlueGreen(args[0], args[2])
	return err
}

// Validate checks the input before anything is read.
func (o *blueGreenOptions) Validate() error {
	if err := rollout.ValidateVersion(o.version); err != nil {
		return cli.UsageError(err)
	}
	if err := checkDurations(map[string]time.Duration{"--soak": o.soak, "--standby": o.standby},
		map[string]time.Duration{"--soak-interval": o.soakEvery}); err != nil {
		return err
	}
	return o.applyFlags.validate()
}

// Run performs the switch.
func (o *blueGreenOptions) Run(ctx context.Context) error {
	s, err := o.g.begin(ctx, "blue-green", func() error {
		return o.confirm(o.g, o.env, fmt.Sprintf("Switch %s to %s in protected environment %s", o.svc.Name, o.version, o.env.Name))
	})
	if err != nil {
		return err
	}
	defer s.close()
	sp, err := s.space(ctx, o.env)
	if err != nil {
		s.log.Logger().Info("log: " + s.log.Path())
		return err
	}
	ao := o.applyFlags.options(o.g)
	opts := rollout.BlueGreenOptions{Service: o.svc, Version: o.version, Timeout: ao.Timeout, PollInterval: ao.PollInterval,
		Settle: ao.Settle, Soak: orNone(o.soak), SoakInterval: o.soakEvery, Standby: orNone(o.standby),
		Retries: ao.Retries, RetryDelay: ao.RetryDelay, DryRun: o.dryRun, ExtraPodLabels: o.podLabels}
	if !o.dryRun {
		client, err := o.g.cluster(ctx, o.env)
		if err != nil {
			return err
		}
		opts.Cluster = SnapshotReader{Client: client}
		if o.probe {
			opts.Prober = health.ServiceProxyProber{Client: client}
		}
	}
	res, err := s.rollout(nil).BlueGreen(ctx, sp, o.env, opts)
	if err != nil {
		s.log.Logger().Info("log: " + s.log.Path())
		return explainBlueGreen(s, err)
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
		rel := ""
		if res.Release != nil {
			rel = fmt.Sprintf("; release %d recorded (tag %s)", res.Release.Number, res.Release.Tag)
		}
		fmt.Fprintf(out, "%s: %s serves %s from %s (%d replicas); %s is at zero%s\n", o.env.Name, o.svc.Name, o.version, res.To, res.Replicas, res.From, rel)
	}
	s.log.Logger().Info("log: " + s.log.Path())
	return nil
}

// explainBlueGreen maps a run's error to its exit code: a rolled-back run
// is a failed change (1) whatever its cause.
func explainBlueGreen(s *session, err error) error {
	var be *rollout.BlueGreenError
	if errors.As(err, &be) && (be.RolledBack || be.RollbackErr != nil && !rollout.IsUnreachable(be.RollbackErr)) {
		return cli.Failed(err)
	}
	return s.explain(err)
}

func (o *blueGreenOptions) writePlan(w io.Writer, res *rollout.BlueGreenResult) error {
	colour := o.g.color.Enabled(w, o.g.env.Getenv)
	fmt.Fprintf(w, "dry run: blue-green %s %s in %s: %s → %s, %d replica(s); nothing changed\n", res.Service, res.Version, res.Environment, res.From, res.To, res.Replicas)
	steps := []string{
		fmt.Sprintf("1. deploy:   edit and apply %s (image, replicas, version label), wait until its pods are ready", res.Plan[0].Unit),
		fmt.Sprintf("2. validate: %s pods ready, no restarts, crash loops or pull errors for %s", res.To, o.settle),
		fmt.Sprintf("3. switch:   edit and apply %s (selector color=%s), verify the endpoints are only %s pods", res.Plan[1].Unit, res.To, res.To),
		fmt.Sprintf("4. soak:     watch %s for %s, every %s; a failure rolls back (selector to %s, %s to zero)", res.To, o.soak, o.soakEvery, res.From, res.To),
		fmt.Sprintf("5. release:  record a release \"blue-green %s %s: %s → %s\"", res.Service, res.Version, res.From, res.To),
		fmt.Sprintf("6. standby:  keep %s up for %s, then edit and apply %s (replicas 0)", res.From, o.standby, res.Plan[2].Unit),
	}
	for _, l := range steps {
		fmt.Fprintln(w, "  "+l)
	}
	for _, e := range res.Plan {
		if !e.Changed {
			fmt.Fprintf(w, "\n%s: no change\n", e.Unit)
			continue
		}
		d, err := diff.Unified(fmt.Sprintf("%s@%d", e.Unit, e.FromRevision), e.Unit+" (planned)", e.Before, e.After, colour)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n%s", d)
	}
	return nil
}

// SnapshotReader takes Snapshots through a (read-only) client.
type SnapshotReader struct{ Client kubernetes.Interface }

// Snapshot implements rollout.Reader.
func (s SnapshotReader) Snapshot(ctx context.Context, namespace string) (*cluster.Snapshot, error) {
	return cluster.Take(ctx, s.Client, namespace)
}

type blueGreenStatusOptions struct {
	g *globals
	blueGreenTarget
	output *cli.OutputFlag
}

func newBlueGreenStatusCommand(g *globals) *cobra.Command {
	o := &blueGreenStatusOptions{g: g, output: cli.NewOutputFlag("table", "table", "json", "yaml")}
	cmd := &cobra.Command{
		Use:   "status <service> <env>",
		Short: "Show the active and standby colour of a blue-green service: images, replicas, revisions, live state",
		Long: `Reads the service's Deployment units of both colours and its Service unit from
ConfigHub (which colour the selector names, image, version and replicas of each
colour, head and live revision, an unfinished run), then, read-only, the
cluster: what the live Service selects, its ready endpoints, and each colour's
Deployment. When the cluster cannot be read the ConfigHub part is still shown.`,
		Example:           "  cub traderx blue-green status trade-service dev\n  cub traderx blue-green status reference-data prod -o json",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeServiceThenEnv,
		RunE:              runVerb(o),
	}
	o.output.AddTo(cmd)
	return cmd
}

// Validate checks the output format.
func (o *blueGreenStatusOptions) Validate() error { return o.output.Validate() }

// Run prints the status.
func (o *blueGreenStatusOptions) Run(ctx context.Context) error {
	s, sp, err := o.g.openStatus(ctx, "blue-green-status", o.env)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.rollout(nil).BlueGreenStatus(ctx, sp, o.env, o.svc, s.statusReader(ctx, o.env))
	if err != nil {
		return s.explain(err)
	}
	return writeBlueGreenStatus(o.g.streams.Out, o.output.Value, st)
}

func writeBlueGreenStatus(w io.Writer, format string, st *rollout.BlueGreenState) error {
	if done, err := cli.WriteData(w, format, st); done {
		return err
	}
	fmt.Fprintf(w, "%s in %s (space %s): active %s, standby %s\n", st.Service, st.Environment, st.Space, st.Active, traderx.OtherColour(st.Active))
	t := table.New("")
	t.Row("COLOUR", "ROLE", "VERSION", "REPLICAS", "REVISION (HEAD/LIVE)", "CLUSTER READY", "CLUSTER IMAGE")
	for _, c := range st.Colours {
		ready, image := "-", "-"
		if c.Cluster != nil {
			if c.Cluster.Exists {
				ready, image = fmt.Sprintf("%d/%d", c.Cluster.Ready, c.Cluster.Replicas), c.Cluster.Image
			} else {
				ready = "no Deployment"
			}
		}
		t.Row(c.Colour, string(c.Role), dash(c.Version), fmt.Sprint(c.Replicas), fmt.Sprintf("%d/%d", c.Head, c.Live), ready, image)
	}
	if err := t.Render(w); err != nil {
		return err
	}
	switch {
	case st.ClusterError != "":
		fmt.Fprintf(w, "cluster: not read: %s\n", st.ClusterError)
	case st.LiveSelector != "":
		note := ""
		if st.LiveSelector != st.Active {
			note = fmt.Sprintf(" (the Service unit selects %s: not applied yet?)", st.Active)
		}
		fmt.Fprintf(w, "cluster: Service %s selects %s, %d ready endpoint(s)%s\n", st.Service, st.LiveSelector, st.ReadyEndpoints, note)
	}
	if r := st.Run; r != nil {
		fmt.Fprintf(w, "unfinished run: to %s from %s, phase %s, started %s — re-run `%s` or `%s`\n",
			r.Version, r.Previous, r.Phase, dash(r.Started), hint.BlueGreen(st.Service, r.Version, st.Environment),
			hint.BlueGreenAbort(st.Service, st.Environment))

	}
	return nil
}

// colourAbortOptions are the flags of `blue-green abort` and `canary abort`:
// both bring a service to one colour through rollout, and differ only in
// which run they end.
type colourAbortOptions struct {
	g     *globals
	verb  string // the parent command: blue-green or canary
	abort func(*rollout.Rollout, context.Context, *confighub.Space, traderx.Environment, rollout.BlueGreenAbortOptions) (*rollout.BlueGreenAbortResult, error)
	blueGreenTarget
	changeFlags
	retryFlags
}

func newBlueGreenAbortCommand(g *globals) *cobra.Command {
	return newColourAbortCommand(&colourAbortOptions{g: g, verb: "blue-green", abort: (*rollout.Rollout).BlueGreenAbort}, &cobra.Command{
		Use:   "abort <service> <env>",
		Short: "Bring an interrupted blue-green to a consistent state: the Service on one healthy colour, the other at zero",
		Long: `Ends an unfinished blue-green run (or repairs an inconsistent service) through
ConfigHub: the Service selects one colour, whose pods back its endpoints, and
the other colour's unit is scaled to zero. It keeps the colour that served
before the run (the new one if the run had passed its soak) when that colour's
Deployment is healthy, else the other one when that one is. The run's
annotations on the Service unit are removed. No release is recorded.`,
		Example: "  cub traderx blue-green abort trade-service dev\n  cub traderx blue-green abort trade-service prod --yes",
	})
}

// newColourAbortCommand completes cmd (its texts set) with the arguments,
// flags and run of an abort.
func newColourAbortCommand(o *colourAbortOptions, cmd *cobra.Command) *cobra.Command {
	g := o.g
	cmd.Args = cobra.ExactArgs(2)
	cmd.ValidArgsFunction = completeServiceThenEnv
	cmd.RunE = runVerb(o)
	f := cmd.Flags()
	o.changeFlags.addTo(g, f, "", "")
	o.retryFlags.addTo(f)
	setUsage(f, "timeout", "How long each apply and the endpoints following may take")
	setUsage(f, "retries", "Retries of a failed apply or unreadable cluster")
	return cmd
}

// Validate checks the apply tuning.
func (o *colourAbortOptions) Validate() error { return o.retryFlags.validate() }

// Run performs the abort.
func (o *colourAbortOptions) Run(ctx context.Context) error {
	s, err := o.g.begin(ctx, o.verb+"-abort", func() error {
		return o.g.confirm(o.env, o.yes, false, fmt.Sprintf("Abort the %s of %s in protected environment %s", o.verb, o.svc.Name, o.env.Name))
	})
	if err != nil {
		return err
	}
	defer s.close()
	sp, err := s.space(ctx, o.env)
	if err != nil {
		s.log.Logger().Info("log: " + s.log.Path())
		return err
	}
	client, err := o.g.cluster(ctx, o.env)
	if err != nil {
		return err
	}
	opts := rollout.BlueGreenAbortOptions{Service: o.svc, Cluster: SnapshotReader{Client: client}, Timeout: o.timeout,
		PollInterval: o.g.env.PollInterval, Retries: o.retriesOrNone(), RetryDelay: o.retryDelay}
	res, err := o.abort(s.rollout(nil), ctx, sp, o.env, opts)
	if err != nil {
		s.log.Logger().Info("log: " + s.log.Path())
		return s.explain(err)
	}
	fmt.Fprintf(o.g.streams.Out, "%s: %s serves from %s, %s is at zero (%s)\n", o.env.Name, o.svc.Name, res.Kept, res.ScaledDown, res.Reason)
	s.log.Logger().Info("log: " + s.log.Path())
	return nil
}

// blueGreenTarget is the <service> <env> of blue-green status and abort,
// resolved once in Complete.
type blueGreenTarget struct {
	svc traderx.Service
	env traderx.Environment
}

// Complete resolves the arguments.
func (t *blueGreenTarget) Complete(args []string) error {
	var err error
	t.svc, t.env, err = lookupBlueGreen(args[0], args[1])
	return err
}

// lookupBlueGreen resolves a <service> and an <env> argument: an eligible
// service and a known environment, else a usage error.
func lookupBlueGreen(service, env string) (traderx.Service, traderx.Environment, error) {
	svc, err := rollout.BlueGreenService(service)
	if err != nil {
		return svc, traderx.Environment{}, cli.UsageError(err)
	}
	e, err := lookupEnvironment(env)
	return svc, e, err
}
