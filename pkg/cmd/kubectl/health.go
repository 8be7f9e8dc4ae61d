package kubectl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const healthExample = `  # Is dev healthy? (exit 0 HEALTHY/DEGRADED, 1 UNHEALTHY)
  %[1]s health dev

  # Only the trading path, as JUnit for CI, failing on warnings too
  %[1]s health prod --services trade-service,reference-data -o junit --fail-on warn

  # Every check, one row each
  %[1]s health dev -o wide

  # Wait up to 5 minutes for a rollout to settle
  %[1]s health staging --wait --timeout 5m

  # Every environment, each on its own cluster, in one table
  %[1]s health --all

  # Watch: redraw as the cluster changes; end on Ctrl-C, or once HEALTHY
  %[1]s health dev --watch
  %[1]s health staging --watch --until healthy --timeout 10m`

// HealthOptions runs `health <env>`.
type HealthOptions struct {
	Env string
	// All judges every environment, each on its own cluster, in one table.
	All              bool
	Services         []string
	RestartThreshold int32
	NotReadyGrace    time.Duration
	Wait             bool
	// Watch redraws the report as the cluster changes, until Ctrl-C, or
	// Until is reached, or Timeout.
	Watch bool
	// Until ends a watch on this verdict ("healthy").
	Until   string
	Timeout time.Duration
	Probe   bool
	Project string
	Report  *ReportFlags
	// Getenv and HomeDir locate the project and ConfigHub credentials and
	// decide colour (tests replace them).
	Getenv  func(string) string
	HomeDir string

	flags *genericclioptions.ConfigFlags
	// client replaces the one the flags connect (tests).
	client kubernetes.Interface
	env    traderx.Environment
	// cluster is the cluster judged, named in every report.
	cluster *check.Cluster
	genericiooptions.IOStreams
}

// NewHealthCommand returns `health <env>`.
func NewHealthCommand(flags *genericclioptions.ConfigFlags, color *cli.ColorFlag, streams genericiooptions.IOStreams) *cobra.Command {
	o := &HealthOptions{flags: flags, IOStreams: streams, Report: NewReportFlags(color), Getenv: os.Getenv,
		RestartThreshold: health.DefaultRestartThreshold, NotReadyGrace: health.DefaultNotReadyGrace}
	cmd := &cobra.Command{
		Use:   "health (<env> | --all)",
		Short: "Judge the health of a TraderX environment: HEALTHY, DEGRADED or UNHEALTHY",
		Long: `Checks the namespace, every service's Deployment (the active colour for blue-green
services), its rollout and pods, its Service endpoints, the dependencies between
services, the ingress, and — with ConfigHub credentials — that every unit's head
revision is live. One LIST per kind per run.

The default view is a row per service (its active colour for blue-green
services, its ready pods, its status) with every check that did not pass in
full under it; -o wide shows every check. --watch keeps the view current from
watches on the kinds health reads (one LIST per kind to start): at a terminal
it redraws in place, otherwise it prints a timestamped line per change. It
ends on Ctrl-C with the last verdict's exit code, or by itself with
--until healthy (and --timeout).

Each environment is read on its own cluster (see 'kubectl traderx config'); the
report names it. --all judges every environment at once, each on its own
cluster, in one table (ENV, CLUSTER, VERDICT, FAILING); the exit code is the
worst, 3 when any cluster could not be read (its row says why; the others are
still shown).

` + cli.ExitCodesHelp,
		Example:           fmt.Sprintf(healthExample, "kubectl traderx"),
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cli.CompleteEnvironments,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "Judge every environment, each on its own cluster, in one table (-o table|json|yaml)")
	cmd.Flags().StringSliceVar(&o.Services, "services", nil, "Only check these services (comma-separated)")
	_ = cmd.RegisterFlagCompletionFunc("services", cli.CompleteServices)
	cmd.Flags().Int32Var(&o.RestartThreshold, "restart-threshold", o.RestartThreshold, "Warn when a container restarted more often than this")
	cmd.Flags().DurationVar(&o.NotReadyGrace, "not-ready-grace", o.NotReadyGrace, "A pod not ready for longer than this fails (shorter: warning)")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "Re-evaluate until HEALTHY or --timeout, with progress on stderr")
	cmd.Flags().BoolVar(&o.Watch, "watch", false, "Keep the view current as the cluster changes, until Ctrl-C (exit code of the last verdict)")
	cmd.Flags().StringVar(&o.Until, "until", "", "With --watch: end once the environment is healthy (the only value: healthy)")
	_ = cmd.RegisterFlagCompletionFunc("until", cobra.FixedCompletions([]string{untilHealthy}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "Give up after this long (default 30s, 5m with --wait, none with --watch)")
	cmd.Flags().BoolVar(&o.Probe, "probe", false, "Also GET each service's health endpoint through the API server's service proxy (a failure is a warning)")
	cmd.Flags().StringVar(&o.Project, "project", "", "ConfigHub project whose spaces hold the environment (default $"+traderx.ProjectEnv+" or "+traderx.DefaultProject+")")
	o.Report.AddTo(cmd)
	return cmd
}

// Complete fills the options from arguments.
func (o *HealthOptions) Complete(args []string) error {
	if len(args) == 1 {
		o.Env = args[0]
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.HomeDir == "" {
		o.HomeDir, _ = os.UserHomeDir() // none: credentials come from the environment only
	}
	o.Report.Getenv = o.Getenv
	if o.Timeout == 0 && !o.Watch {
		o.Timeout = 30 * time.Second
		if o.Wait {
			o.Timeout = 5 * time.Minute
		}
	}
	return nil
}

// Validate checks the input before the cluster is contacted.
func (o *HealthOptions) Validate() error {
	var err error
	if err = o.validateAll(); err != nil {
		return err
	}
	if !o.All {
		if o.env, err = resolveEnvironment(o.Env, o.flags); err != nil {
			return err
		}
	}
	if _, err := traderx.LookupServices(o.Services); err != nil {
		return cli.UsageError(err)
	}
	if o.RestartThreshold < 0 || o.NotReadyGrace < 0 || o.Timeout < 0 {
		return cli.Usagef("--restart-threshold, --not-ready-grace and --timeout must not be negative")
	}
	if o.Project, err = traderx.ResolveProject(o.Project, o.Getenv); err != nil {
		return cli.UsageError(err)
	}
	if err := o.Report.Validate(); err != nil {
		return err
	}
	if o.All {
		return validateAllFormat(o.Report)
	}
	return o.validateWatch()
}

// validateAll checks --all against the environment and the flags that only
// make sense for one environment.
func (o *HealthOptions) validateAll() error {
	switch {
	case !o.All && o.Env == "":
		return cli.Usagef("health needs an environment (%s) or --all", strings.Join(traderx.EnvironmentNames(), ", "))
	case o.All && o.Env != "":
		return cli.Usagef("give an environment or --all, not both")
	case o.All && (o.Watch || o.Wait):
		return cli.Usagef("--all judges each environment once; --watch and --wait take one environment")
	case o.All && o.flags != nil && deref(o.flags.Namespace) != "":
		return cli.Usagef("--all reads each environment's own namespace; -n takes one environment")
	}
	return nil
}

// Run evaluates the environment (repeatedly with --wait, continuously with
// --watch) and prints the report.
func (o *HealthOptions) Run(ctx context.Context) error {
	hub, err := newConfigHubClient(o.Getenv, o.HomeDir)
	if err != nil {
		return err
	}
	resolver, err := newResolver(o.flags, o.Getenv, o.HomeDir, o.Project, hub)
	if err != nil {
		return err
	}
	if o.All {
		return o.runAll(ctx, resolver, hub)
	}
	client := o.client
	if client == nil {
		access, where, err := resolver.Connect(ctx, o.env)
		if err != nil {
			return clusterError(err)
		}
		client, o.cluster = access.Client, clusterRef(where)
	}
	opts := o.options(client, hub)
	if o.Watch {
		return o.watch(ctx, client, opts)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	if !o.Wait {
		r, ov, err := o.evaluate(ctx, client, o.env, o.cluster, opts)
		if err != nil {
			return cli.Unavailable(err)
		}
		return o.Report.Render(o.IOStreams, r, check.GroupByTarget, ov)
	}
	start := time.Now()
	var last *check.Report
	var lastOverview *check.Overview
	var lastErr error
	_ = wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		r, ov, err := o.evaluate(ctx, client, o.env, o.cluster, opts)
		if err != nil {
			lastErr = err
			fmt.Fprintf(o.ErrOut, "[%s] cannot evaluate yet: %v\n", time.Since(start).Round(time.Second), err)
			return false, nil
		}
		last, lastOverview, lastErr = r, ov, nil
		fmt.Fprintf(o.ErrOut, "[%s] %s — %s\n", time.Since(start).Round(time.Second), r.Verdict, r.Reason)
		return r.Verdict == check.VerdictHealthy, nil
	})
	if last == nil {
		if lastErr == nil {
			lastErr = errors.New("no evaluation finished")
		}
		return cli.Unavailable(fmt.Errorf("timed out after %s: %w", o.Timeout, lastErr))
	}
	if last.Verdict != check.VerdictHealthy {
		fmt.Fprintf(o.ErrOut, "not HEALTHY after %s; last result:\n", o.Timeout)
	}
	return o.Report.Render(o.IOStreams, last, check.GroupByTarget, lastOverview)
}

// options are the health options of one environment's run on client; hub
// is nil without ConfigHub credentials (the sync check SKIPs).
func (o *HealthOptions) options(client kubernetes.Interface, hub *confighub.Client) health.Options {
	opts := health.Options{Services: o.Services, RestartThreshold: o.RestartThreshold, NotReadyGrace: o.NotReadyGrace}
	if o.Probe {
		opts.Prober = health.ServiceProxyProber{Client: client}
	}
	if hub != nil {
		opts.Sync = health.ConfigHubSync{Client: hub, Project: o.Project}
	}
	return opts
}

// evaluate takes one snapshot of env on the cluster where and judges it.
func (o *HealthOptions) evaluate(ctx context.Context, client kubernetes.Interface, env traderx.Environment, where *check.Cluster, opts health.Options) (*check.Report, *check.Overview, error) {
	s, err := health.Snapshot(ctx, client, env)
	if err != nil {
		return nil, nil, err
	}
	r := health.Judge(ctx, s, env, opts)
	r.Cluster = where
	ov := health.Overview(s, env, opts, r)
	return r, &ov, nil
}

// runAll judges every environment on its own cluster, each bounded by
// --timeout, and prints one table.
func (o *HealthOptions) runAll(ctx context.Context, resolver *envcluster.Resolver, hub *confighub.Client) error {
	judge := func(ctx context.Context, env traderx.Environment) (*check.Report, *check.Cluster, error) {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		access, c, err := resolver.Connect(ctx, env)
		if err != nil {
			return nil, nil, clusterError(err)
		}
		where := clusterRef(c)
		r, _, err := o.evaluate(ctx, access.Client, env, where, o.options(access.Client, hub))
		if err != nil {
			return nil, where, cli.Unavailable(err)
		}
		return r, where, nil
	}
	return renderAll(o.IOStreams, o.Report.Output, judgeAll(ctx, check.KindHealth, judge, o.Report.failOn))
}
