// Package cub is the cobra tree of cub-traderx, the ConfigHub plugin. It
// changes environments only through the ConfigHub API; its cluster access
// (for health gates) is read-only, built through cluster.Connect.
package cub

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/plugins"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

// Name is the plugin's binary name.
const Name = "cub-traderx"

// Env is what a run takes from its surroundings; tests replace parts of it.
type Env struct {
	Getenv  func(string) string
	HomeDir string
	// Clock runs backoffs and gate polls (default: the wall clock).
	Clock rollout.Clock
	// Gate replaces the cluster health gate (tests); nil builds one from
	// --kubeconfig/--context through cluster.Connect.
	Gate rollout.Gate
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
	project string
	logDir  string
	verbose bool
}

// newKubeFlags are the kubectl-style connection flags; only --kubeconfig and
// --context are registered (the namespace is the environment's).
func newKubeFlags() *genericclioptions.ConfigFlags { return genericclioptions.NewConfigFlags(true) }

// NewRootCommand builds the cub-traderx command tree for the process environment.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return NewRootCommandWith(streams, OSEnv())
}

// NewRootCommandWith builds the command tree with an explicit Env.
func NewRootCommandWith(streams genericiooptions.IOStreams, env Env) *cobra.Command {
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
$CUB_CONTEXT or the current one). Every run that talks to ConfigHub writes a
log file (see --log-dir).

` + cli.ExitCodesHelp,
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
	pf.StringVar(g.kube.Context, "context", "", "Kubeconfig context of the cluster read by health gates")
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
	)
	return root
}
