package kubectl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cluster"
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

  # Watch: redraw as the cluster changes; end on Ctrl-C, or once HEALTHY
  %[1]s health dev --watch
  %[1]s health staging --watch --until healthy --timeout 10m`

// HealthOptions runs `health <env>`.
type HealthOptions struct {
	Env              string
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
		Use:   "health <env>",
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

` + cli.ExitCodesHelp,
		Example:           fmt.Sprintf(healthExample, "kubectl traderx"),
		Args:              cobra.ExactArgs(1),
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
	o.Env = args[0]
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
	env, err := resolveEnvironment(o.Env, o.flags)
	if err != nil {
		return err
	}
	o.env = env
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
	return o.validateWatch()
}

// Run evaluates the environment (repeatedly with --wait, continuously with
// --watch) and prints the report.
func (o *HealthOptions) Run(ctx context.Context) error {
	hub, err := newConfigHubClient(o.Getenv, o.HomeDir)
	if err != nil {
		return err
	}
	client := o.client
	if client == nil {
		resolver, err := newResolver(o.flags, o.Getenv, o.HomeDir, o.Project, hub)
		if err != nil {
			return err
		}
		access, where, err := resolver.Connect(ctx, o.env)
		if err != nil {
			return clusterError(err)
		}
		client, o.cluster = access.Client, clusterRef(where)
	}
	opts := health.Options{Services: o.Services, RestartThreshold: o.RestartThreshold, NotReadyGrace: o.NotReadyGrace}
	if o.Probe {
		opts.Prober = health.ServiceProxyProber{Client: client}
	}
	if hub != nil { // without credentials the sync check SKIPs
		opts.Sync = health.ConfigHubSync{Client: hub, Project: o.Project}
	}
	if o.Watch {
		return o.watch(ctx, client, opts)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	if !o.Wait {
		r, ov, err := o.evaluate(ctx, client, opts)
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
		r, ov, err := o.evaluate(ctx, client, opts)
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

// evaluate takes one snapshot and judges it.
func (o *HealthOptions) evaluate(ctx context.Context, client kubernetes.Interface, opts health.Options) (*check.Report, *check.Overview, error) {
	s, err := cluster.Take(ctx, client, o.env.Namespace())
	if err != nil {
		return nil, nil, err
	}
	r := health.Judge(ctx, s, o.env, opts)
	r.Cluster = o.cluster
	ov := health.Overview(s, o.env, opts, r)
	return r, &ov, nil
}
