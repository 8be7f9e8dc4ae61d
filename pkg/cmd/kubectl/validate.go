package kubectl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/pkg/validate"
)

const validateExample = `  # Validate the live dev environment (and its ConfigHub space, when logged in)
  %[1]s validate dev

  # Validate what the model renders for prod, without a cluster
  %[1]s validate prod --local

  # Validate manifests against staging's expectations: a file, a directory, or stdin
  %[1]s validate staging -f trade-service-deployment.yaml
  %[1]s manifests prod | %[1]s validate prod -f -

  # Every environment, live, each on its own cluster, in one table
  %[1]s validate --all

  # JUnit for CI; warnings fail the run too
  %[1]s validate prod -o junit --fail-on warn > validate.xml`

const validateLong = `Validates a TraderX environment against the model, in numbered suites:

  01 ConfigHub space exists          09 ConfigHub live state synced
  02 every expected unit exists      10 probes as the model recommends
  03 namespace exists and Active     11 required labels, Prometheus annotations
  04 replicas (blue-green aware)     12 network policies: default deny, edges
  05 service dependencies wired      13 security context
  06 Services have valid endpoints   14 no crash-looping or failed pods
  07 Ingress routes of the front end 15 availability in protected environments
  08 resource requests and limits

Without --local or -f it reads the live namespace (-n overrides it) and, when
ConfigHub credentials exist (CUB_SERVER and CUB_TOKEN, or cub auth login), the
environment's ConfigHub space. --local validates the manifests the model renders
and -f validates any manifests (multi-document YAML or a JSON List); both are
offline: they read neither the cluster nor ConfigHub, and validations that need
live state are skipped with the reason.

A live run reads the environment on its own cluster (see 'kubectl traderx
config') and the report names it. --all validates every environment live at
once, each on its own cluster, in one table (ENV, CLUSTER, VERDICT, FAILING);
the exit code is the worst, 3 when any cluster could not be read.

`

// ValidateOptions validates an environment, live or offline.
type ValidateOptions struct {
	Env string
	// All validates every environment live, each on its own cluster.
	All bool
	// Local validates the rendered manifests instead of the cluster.
	Local bool
	// Filename is a file, a directory of .yaml/.yml/.json files, or "-".
	Filename string
	Project  string
	// Timeout bounds the reads of the cluster and ConfigHub.
	Timeout time.Duration
	Report  *ReportFlags
	Flags   *genericclioptions.ConfigFlags
	// Getenv and HomeDir locate ConfigHub credentials (tests replace them).
	Getenv  func(string) string
	HomeDir string

	env     traderx.Environment
	project string
	genericiooptions.IOStreams
}

// NewValidateCommand returns `validate <env>`.
func NewValidateCommand(flags *genericclioptions.ConfigFlags, color *cli.ColorFlag, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ValidateOptions{Report: NewReportFlags(color), Flags: flags, Getenv: os.Getenv, IOStreams: streams}
	cmd := &cobra.Command{
		Use:               "validate (<env> | --all)",
		Short:             "Validate an environment (live, rendered, or from files) against the TraderX model",
		Long:              validateLong + cli.ExitCodesHelp,
		Example:           fmt.Sprintf(validateExample, "kubectl traderx"),
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
	o.Report.AddTo(cmd)
	cmd.Flags().BoolVar(&o.All, "all", false, "Validate every environment live, each on its own cluster, in one table (-o table|json|yaml)")
	cmd.Flags().BoolVar(&o.Local, "local", false, "Validate the manifests rendered from the model; no cluster or ConfigHub access")
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Validate manifests from a file, a directory, or - for stdin; no cluster or ConfigHub access")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "Give up reading the cluster and ConfigHub after this long")
	cmd.Flags().StringVar(&o.Project, "project", "", "ConfigHub project; spaces are <project>-<env> (default $"+traderx.ProjectEnv+", else "+traderx.DefaultProject+")")
	return cmd
}

// Complete fills the options from arguments and the process.
func (o *ValidateOptions) Complete(args []string) error {
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
	return nil
}

// Validate checks the input before anything is read.
func (o *ValidateOptions) Validate() error {
	var err error
	switch {
	case !o.All && o.Env == "":
		return cli.Usagef("validate needs an environment (%s) or --all", strings.Join(traderx.EnvironmentNames(), ", "))
	case o.All && o.Env != "":
		return cli.Usagef("give an environment or --all, not both")
	case o.All && (o.Local || o.Filename != ""):
		return cli.Usagef("--all validates live environments; --local and -f take one environment")
	case o.All && o.Flags != nil && deref(o.Flags.Namespace) != "":
		return cli.Usagef("--all reads each environment's own namespace; -n takes one environment")
	case !o.All:
		if o.env, err = resolveEnvironment(o.Env, o.Flags); err != nil {
			return err
		}
	}
	if o.Local && o.Filename != "" {
		return cli.Usagef("--local and -f are exclusive: --local validates the rendered manifests, -f the given ones")
	}
	if o.Timeout < 0 {
		return cli.Usagef("--timeout must not be negative")
	}
	if o.project, err = traderx.ResolveProject(o.Project, o.Getenv); err != nil {
		return cli.UsageError(err)
	}
	if err := o.Report.Validate(); err != nil {
		return err
	}
	if o.All {
		return validateAllFormat(o.Report)
	}
	return nil
}

// Run builds the input, validates it and renders the report; the returned
// error carries the exit code.
func (o *ValidateOptions) Run(ctx context.Context) error {
	var report *check.Report
	var err error
	if o.Local || o.Filename != "" {
		report, err = o.offline()
	} else {
		if o.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.Timeout)
			defer cancel()
		}
		var hub *confighub.Client
		var resolver *envcluster.Resolver
		if hub, resolver, err = o.sources(); err != nil {
			return err
		}
		if o.All {
			judge := func(ctx context.Context, env traderx.Environment) (*check.Report, *check.Cluster, error) {
				return o.live(ctx, env, resolver, hub)
			}
			return renderAll(o.IOStreams, o.Report.Output, judgeAll(ctx, check.KindValidate, judge, o.Report.failOn))
		}
		report, _, err = o.live(ctx, o.env, resolver, hub)
	}
	if err != nil {
		return err
	}
	return o.Report.Render(o.IOStreams, report, check.GroupBySuite, nil)
}

// offline validates the rendered manifests (--local) or the given ones (-f).
func (o *ValidateOptions) offline() (*check.Report, error) {
	in := validate.Input{Env: o.env}
	if o.Local {
		units, err := manifests.Render(o.env)
		if err != nil {
			return nil, err
		}
		in.Objects = manifests.Objects(units)
		in.OfflineReason = "offline (--local)"
	} else {
		objs, err := o.readObjects()
		if err != nil {
			return nil, cli.UsageError(err)
		}
		in.Objects = objs
		in.OfflineReason = "offline (-f)"
	}
	in.ConfigHub = validate.ConfigHubSkipped(in.OfflineReason + ": ConfigHub is not consulted")
	report, err := validate.Run(in)
	if err != nil {
		return nil, cli.UsageError(err)
	}
	return report, nil
}

// sources are the ConfigHub client (nil without credentials) and the
// environment → cluster mapping of a live run.
func (o *ValidateOptions) sources() (*confighub.Client, *envcluster.Resolver, error) {
	hub, err := newConfigHubClient(o.Getenv, o.HomeDir)
	if err != nil {
		return nil, nil, err
	}
	resolver, err := newResolver(o.Flags, o.Getenv, o.HomeDir, o.project, hub)
	if err != nil {
		return nil, nil, err
	}
	return hub, resolver, nil
}

// live validates env on its own cluster and, with credentials, its
// ConfigHub space; the report names the cluster.
func (o *ValidateOptions) live(ctx context.Context, env traderx.Environment, resolver *envcluster.Resolver, hub *confighub.Client) (*check.Report, *check.Cluster, error) {
	access, c, err := resolver.Connect(ctx, env)
	if err != nil {
		return nil, nil, clusterError(err)
	}
	where := clusterRef(c)
	in := validate.Input{Env: env}
	if in.Snapshot, err = cluster.Take(ctx, access.Client, env.Namespace()); err != nil {
		return nil, where, cli.Unavailable(err)
	}
	if in.Secrets, err = cluster.SecretsPresent(ctx, access.Config, env.Namespace(), traderx.RequiredSecrets()); err != nil {
		return nil, where, cli.Unavailable(err)
	}
	if in.ConfigHub, err = configHubState(ctx, hub, env.Space(o.project)); err != nil {
		return nil, where, err
	}
	report, err := validate.Run(in)
	if err != nil {
		return nil, where, cli.UsageError(err)
	}
	report.Cluster = where
	return report, where, nil
}

// ConfigHubState reads the environment's ConfigHub space, or says visibly
// why it was not read when no credentials exist.
func (o *ValidateOptions) ConfigHubState(ctx context.Context) (*validate.ConfigHubState, error) {
	client, err := newConfigHubClient(o.Getenv, o.HomeDir)
	if err != nil {
		return nil, err
	}
	return configHubState(ctx, client, o.env.Space(o.project))
}

func configHubState(ctx context.Context, hub *confighub.Client, space string) (*validate.ConfigHubState, error) {
	if hub == nil {
		return validate.ConfigHubSkipped(validate.NoCredentialsReason), nil
	}
	st, err := validate.FetchConfigHub(ctx, hub, space)
	if err != nil {
		return nil, cli.Unavailable(err)
	}
	return st, nil
}

// manifestExtensions are the files -f reads from a directory.
var manifestExtensions = []string{".yaml", ".yml", ".json"}

// readObjects reads -f: stdin, one file, or the manifest files of a
// directory (not recursive), in name order.
func (o *ValidateOptions) readObjects() ([]*unstructured.Unstructured, error) {
	if o.Filename == "-" {
		data, err := io.ReadAll(o.In)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return decodeManifests("stdin", data)
	}
	info, err := os.Stat(o.Filename)
	if err != nil {
		return nil, fmt.Errorf("read -f %s: %w", o.Filename, pathError(err))
	}
	files := []string{o.Filename}
	if info.IsDir() {
		entries, err := os.ReadDir(o.Filename)
		if err != nil {
			return nil, fmt.Errorf("read -f %s: %w", o.Filename, err)
		}
		files = nil
		for _, e := range entries {
			if !e.IsDir() && slices.Contains(manifestExtensions, strings.ToLower(filepath.Ext(e.Name()))) {
				files = append(files, filepath.Join(o.Filename, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("-f %s: no %s files in the directory", o.Filename, strings.Join(manifestExtensions, ", "))
		}
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read -f %s: %w", f, pathError(err))
		}
		objs, err := decodeManifests(f, data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// pathError drops the path from a file error: the message names it already.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func decodeManifests(name string, data []byte) ([]*unstructured.Unstructured, error) {
	objs, err := manifests.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s: no Kubernetes objects", name)
	}
	return objs, nil
}
