// Package cub is the cobra tree of cub-traderx, the ConfigHub plugin. It
// changes environments only through the ConfigHub API; its cluster access
// (for health gates) is read-only, built through cluster.Connect.
package cub

import (
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/plugins"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Name is the plugin's binary name.
const Name = "cub-traderx"

// Env is what a run takes from its surroundings; tests replace parts of it.
type Env struct {
	Getenv  func(string) string
	HomeDir string
	// Clock runs backoffs and gate polls (default: the wall clock).
	Clock rollout.Clock
	// Gate replaces the cluster health gate (tests); nil builds one over
	// Cluster.
	Gate rollout.Gate
	// Cluster returns the read-only client of the cluster an environment
	// runs in, which health gates, blue-green and its status read. nil
	// connects to --kubeconfig's --kube-context through cluster.Connect
	// (whose transport refuses every write); tests pass a fake clientset.
	Cluster func(ctx context.Context, env traderx.Environment) (kubernetes.Interface, error)
	// ClientOptions are appended to the ConfigHub client options (tests
	// shorten retries).
	ClientOptions []confighub.Option
	// IsTerminal decides whether stdin may be prompted (default: a real TTY check).
	IsTerminal func(io.Reader) bool
	// PollInterval of the health gate (default rollout.DefaultPollInterval).
	PollInterval time.Duration
}

// OSEnv is the process environment.
func OSEnv() Env {
	home, _ := os.UserHomeDir()
	return Env{Getenv: os.Getenv, HomeDir: home}
}

func (e Env) withDefaults() Env {
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Clock == nil {
		e.Clock = rollout.RealClock{}
	}
	if e.IsTerminal == nil {
		e.IsTerminal = func(r io.Reader) bool { return cli.IsTerminal(r) }
	}
	return e
}

// globals are the flags and surroundings every command shares.
type globals struct {
	env     Env
	streams genericiooptions.IOStreams
	color   *cli.ColorFlag
	kube    *genericclioptions.ConfigFlags
	// kubeContext is --kube-context, merged into kube.Context before a
	// command runs (see resolveKubeContext).
	kubeContext string
	project     string
	logDir      string
	verbose     bool
	// resume is the command that continues the running command after an
	// interruption, set once the command knows it (see interruptible).
	resume string
	// approval holds --approved-by and --ticket of the mutating verbs.
	approval approvalFlags
	// session is the run's ConfigHub session once open; the cluster mapping
	// (clusters) is built once, from it when there is one.
	session      *session
	clustersOnce sync.Once
	resolver     *envcluster.Resolver
	clustersErr  error
}

// newKubeFlags are the kubectl-style connection flags; only --kubeconfig and
// the context are registered (the namespace is the environment's).
func newKubeFlags() *genericclioptions.ConfigFlags { return genericclioptions.NewConfigFlags(true) }

// resolveKubeContext picks the kubeconfig context of the cluster the health
// gates read. cub strips --context (it selects cub's own ConfigHub context)
// from a plugin's arguments, so under cub only --kube-context reaches us;
// run directly, the kubectl-style --context works too. Two different names
// are bad input rather than a silent choice.
func resolveKubeContext(kubeContext, context string) (string, error) {
	if kubeContext == "" || context == "" || kubeContext == context {
		return cmp.Or(kubeContext, context), nil
	}
	return "", cli.Usagef("--kube-context %q and --context %q name different kubeconfig contexts: give only --kube-context", kubeContext, context)
}

// NewRootCommand builds the cub-traderx command tree for the process environment.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return NewRootCommandWith(streams, OSEnv())
}

// NewRootCommandWith builds the command tree with an explicit Env.
func NewRootCommandWith(streams genericiooptions.IOStreams, env Env) *cobra.Command {
	root, _ := newRoot(streams, env)
	return root
}

// newRoot builds the command tree and returns the globals its flags fill.
func newRoot(streams genericiooptions.IOStreams, env Env) (*cobra.Command, *globals) {
	g := &globals{env: env.withDefaults(), streams: streams, color: &cli.ColorFlag{},
		kube: newKubeFlags()}
	root := &cobra.Command{
		Use:   "traderx",
		Short: plugins.Cub().Summary,
		Long: `cub traderx manages TraderX environments as ConfigHub units. It changes
environments only through the ConfigHub API; its cluster access is read-only
(it reads the cluster to verify health after each tier).

Credentials come from CUB_SERVER and CUB_TOKEN (set by cub when it runs the
plugin), else from the cub config ($CUB_CONFIG or ~/.confighub, context
$CUB_CONTEXT or the current one), else from an older cub's login
(~/.confighub/session.json; server $CONFIGHUB_URL, else context.json, else
https://hub.confighub.com). Every run that talks to ConfigHub writes a log
file (see --log-dir).

Each environment's health gates read its own cluster: the kube context given
by --kube-context, else by the mapping file (kubectl traderx config
set-context), else by the KubeContext parameter of the ConfigHub target the
environment's units are bound to, else the current context of --kubeconfig.
Under cub, --context and --debug belong to cub (--context selects the ConfigHub
context) and never reach cub traderx; run directly as cub-traderx, --context
is the same as --kube-context.

` + cli.ExitCodesHelp + cli.ExitInterruptedHelp,
	}
	cli.SetDisplayName(root, "cub traderx")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	g.color.AddTo(root)
	pf := root.PersistentFlags()
	pf.StringVar(&g.project, "project", "", "ConfigHub project: spaces are <project>-base and <project>-<env> (default $TRADERX_PROJECT or traderx)")
	pf.StringVar(&g.logDir, "log-dir", "", "Directory for the run's log file (default $XDG_STATE_HOME/traderx/logs or ~/.local/state/traderx/logs)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "Show debug lines on stderr (the log file always has them)")
	// Only the kubeconfig and context are taken: the namespace is the environment's.
	pf.StringVar(g.kube.KubeConfig, "kubeconfig", "", "Kubeconfig of the cluster read by health gates")
	pf.StringVar(&g.kubeContext, "kube-context", "", "Kubeconfig context of the cluster read by health gates, for every environment (default: each environment's mapped context, else the current one)")
	pf.StringVar(g.kube.Context, "context", "", "Same as --kube-context when run directly as cub-traderx; under cub, --context selects cub's ConfigHub context and never reaches cub traderx")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		ctx, err := resolveKubeContext(g.kubeContext, *g.kube.Context)
		*g.kube.Context = ctx
		return err
	}
	root.AddCommand(
		cli.NewVersionCommand(Name, streams),
		newInstallCommand(g),
		newApplyCommand(g),
		newStatusCommand(g),
		newPromoteCommand(g),
		newRollbackCommand(g),
		newHistoryCommand(g),
		newSetImageCommand(g),
		newScaleCommand(g),
		newSetEnvCommand(g),
		newRestartCommand(g),
		newDiffCommand(g),
		newBlueGreenCommand(g),
		newAuditCommand(g),
		newCanaryCommand(g),
	)
	g.interruptible(root)
	return root, g
}

// interruptible makes every command of the tree end an interrupted run
// (its context cancelled by cli.NotifyInterrupt) with one line saying so and
// the command that resumes it: a failed tier's own resume command, else the
// one the command set in g.resume.
func (g *globals) interruptible(c *cobra.Command) {
	for _, sub := range c.Commands() {
		g.interruptible(sub)
	}
	run := c.RunE
	if run == nil {
		return
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		in := cli.InterruptedBy(cmd.Context())
		if err == nil || in == nil {
			return err
		}
		resume := g.resume
		var te *rollout.TierError
		if errors.As(err, &te) && te.Resume != "" {
			resume = te.Resume
		}
		return cli.InterruptError(in, cmd.CommandPath(), resume, err)
	}
}
