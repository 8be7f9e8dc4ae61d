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

  # Wait up to 5 minutes for a rollout to settle
  %[1]s health staging --wait --timeout 5m`

// HealthOptions runs `health <env>`.
type HealthOptions struct {
	Env              string
	Services         []string
	RestartThreshold int32
	NotReadyGrace    time.Duration
	Wait             bool
	Timeout          time.Duration
	Probe            bool
	Project          string
	Report           *ReportFlags

	flags *genericclioptions.ConfigFlags
	env   traderx.Environment
	genericiooptions.IOStreams
}

// NewHealthCommand returns `health <env>`.
func NewHealthCommand(flags *genericclioptions.ConfigFlags, color *cli.ColorFlag, streams genericiooptions.IOStreams) *cobra.Command {
	o := &HealthOptions{flags: flags, IOStreams: streams, Report: NewReportFlags(color),
		RestartThreshold: health.DefaultRestartThreshold, NotReadyGrace: health.DefaultNotReadyGrace}
	cmd := &cobra.Command{
		Use:   "health <env>",
		Short: "Judge the health of a TraderX environment: HEALTHY, DEGRADED or UNHEALTHY",
		Long: `Checks the namespace, every service's Deployment (the active colour for blue-green
services), its rollout and pods, its Service endpoints, the dependencies between
services, the ingress, and — with ConfigHub credentials — that every unit's head
revision is live. One LIST per kind per run.

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
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "Give up after this long (default 30s, or 5m with --wait)")
	cmd.Flags().BoolVar(&o.Probe, "probe", false, "Also GET each service's health endpoint through the API server's service proxy (a failure is a warning)")
	cmd.Flags().StringVar(&o.Project, "project", "", "ConfigHub project whose spaces hold the environment (default $"+traderx.ProjectEnv+" or "+traderx.DefaultProject+")")
	o.Report.AddTo(cmd)
	return cmd
}

// Complete fills the options from arguments.
func (o *HealthOptions) Complete(args []string) error {
	o.Env = args[0]
	if o.Timeout == 0 {
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
	if o.Project, err = traderx.ResolveProject(o.Project); err != nil {
		return cli.UsageError(err)
	}
	return o.Report.Validate()
}

// Run evaluates the environment (repeatedly with --wait) and prints the report.
func (o *HealthOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	access, err := cluster.Connect(o.flags)
	if err != nil {
		return cli.UsageError(err)
	}
	opts := health.Options{Services: o.Services, RestartThreshold: o.RestartThreshold, NotReadyGrace: o.NotReadyGrace}
	if o.Probe {
		opts.Prober = health.ServiceProxyProber{Client: access.Client}
	}
	if opts.Sync, err = o.syncSource(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	if !o.Wait {
		r, err := health.Run(ctx, access.Client, o.env, opts)
		if err != nil {
			return cli.Unavailable(err)
		}
		return o.Report.Render(o.IOStreams, r, check.GroupByTarget)
	}
	start := time.Now()
	var last *check.Report
	var lastErr error
	_ = wait.PollUntilContextCancel(ctx, 2*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := health.Run(ctx, access.Client, o.env, opts)
		if err != nil {
			lastErr = err
			fmt.Fprintf(o.ErrOut, "[%s] cannot evaluate yet: %v\n", time.Since(start).Round(time.Second), err)
			return false, nil
		}
		last, lastErr = r, nil
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
	return o.Report.Render(o.IOStreams, last, check.GroupByTarget)
}

// syncSource returns the ConfigHub reader when credentials exist; nil (the
// sync check SKIPs) when none are configured.
func (o *HealthOptions) syncSource() (health.SyncSource, error) {
	home, _ := os.UserHomeDir()
	client, err := newConfigHubClient(os.Getenv, home)
	if err != nil || client == nil {
		return nil, err
	}
	return health.ConfigHubSync{Client: client, Project: o.Project}, nil
}
