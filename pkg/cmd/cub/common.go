package cub

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// verb is the shape of every command, as stern and argo-rollouts have it:
// Complete takes the arguments and resolves what needs no network, Validate
// checks the input before anything is read, Run does the work. A test builds
// the options and calls them without cobra.
type verb interface {
	Complete(args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// runVerb is the cobra RunE of every command.
func runVerb(v verb) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := v.Complete(args); err != nil {
			return err
		}
		if err := v.Validate(); err != nil {
			return err
		}
		return v.Run(cmd.Context())
	}
}

// changeFlags are what every command that changes an environment repeats:
// --yes for a protected environment, --dry-run, and --change-desc where the
// change is recorded with a description.
type changeFlags struct {
	yes        bool
	dryRun     bool
	changeDesc string
}

// addTo registers --yes, and --dry-run and --change-desc with the verb's own
// help (what its dry run shows, where the description goes); an empty help
// leaves that flag out.
func (c *changeFlags) addTo(g *globals, f *pflag.FlagSet, dryRunHelp, changeDescHelp string) {
	f.BoolVar(&c.yes, "yes", false, "Confirm a change to a protected environment without asking")
	g.approval.addTo(f)
	if dryRunHelp != "" {
		f.BoolVar(&c.dryRun, "dry-run", false, dryRunHelp)
	}
	if changeDescHelp != "" {
		f.StringVar(&c.changeDesc, "change-desc", "", changeDescHelp)
	}
}

// confirm asks question before changing a protected environment (see
// globals.confirm).
func (c *changeFlags) confirm(g *globals, env traderx.Environment, question string) error {
	return g.confirm(env, c.yes, c.dryRun, question)
}

// retryFlags tune how long an apply may take and how often a failed one is
// retried; every command that applies has them.
type retryFlags struct {
	timeout    time.Duration
	retries    int
	retryDelay time.Duration
}

func (a *retryFlags) addTo(f *pflag.FlagSet) {
	f.DurationVar(&a.timeout, "timeout", rollout.DefaultTimeout, "How long each tier may take to become healthy (and each apply to finish)")
	f.IntVar(&a.retries, "retries", rollout.DefaultRetries, "Retries of a failed apply or unreadable health check")
	f.DurationVar(&a.retryDelay, "retry-delay", rollout.DefaultRetryDelay, "First retry delay; doubles on each retry")
}

func (a *retryFlags) validate() error {
	switch {
	case a.timeout <= 0:
		return cli.Usagef("--timeout must be positive, got %s", a.timeout)
	case a.retries < 0:
		return cli.Usagef("--retries must be 0 or more, got %d", a.retries)
	case a.retryDelay < 0:
		return cli.Usagef("--retry-delay must not be negative, got %s", a.retryDelay)
	}
	return nil
}

// retriesOrNone is --retries for rollout, which reads 0 as "default": an
// explicit 0 becomes "none" (-1).
func (a *retryFlags) retriesOrNone() int {
	if a.retries == 0 {
		return -1
	}
	return a.retries
}

// applyFlags tune the ordered apply every mutating command ends with.
type applyFlags struct {
	retryFlags
	settle time.Duration
}

func (a *applyFlags) addTo(f *pflag.FlagSet) {
	a.retryFlags.addTo(f)
	f.DurationVar(&a.settle, "settle", rollout.DefaultSettle, "How long what a tier changed must stay healthy without a break; tiers that depend on it wait, others go on (0: no hold)")
}

func (a *applyFlags) validate() error {
	if err := a.retryFlags.validate(); err != nil {
		return err
	}
	if a.settle < 0 {
		return cli.Usagef("--settle must not be negative, got %s", a.settle)
	}
	return nil
}

// options turns the flags into rollout options (an explicit 0 is "none", see orNone).
func (a *applyFlags) options(g *globals) rollout.ApplyOptions {
	return rollout.ApplyOptions{Retries: a.retriesOrNone(), RetryDelay: a.retryDelay, Timeout: a.timeout, Settle: orNone(a.settle),
		PollInterval: g.env.PollInterval}
}

// orNone turns an explicit 0 into rollout's "none" (-1); rollout reads 0
// as "default".
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// setUsage replaces the help of a shared flag where the verb gives it a
// wider meaning (blue-green's --timeout also covers the endpoints following).
func setUsage(f *pflag.FlagSet, name, usage string) { f.Lookup(name).Usage = usage }

// confirm asks question before changing a protected environment; --yes and
// dry runs pass. Without a terminal it refuses rather than wait for an
// answer nobody can give. How a change was confirmed is recorded on the
// run's session (see confirmationBy).
func (g *globals) confirm(env traderx.Environment, yes, dryRun bool, question string) error {
	if !env.Protected || dryRun {
		return nil
	}
	if !yes {
		if !g.env.IsTerminal(g.streams.In) {
			return cli.Usagef("%s is a protected environment: confirmation needed, but stdin is not a terminal; pass --yes", env.Name)
		}
		if err := cli.ConfirmFrom(g.streams.In, g.streams.ErrOut, question); err != nil {
			return err
		}
	}
	if g.session != nil {
		g.session.confirmed(env, confirmationBy(yes, g.env.Getenv))
	}
	return nil
}

// lookupEnvironment resolves an <env> argument (bad input: exit 2).
func lookupEnvironment(name string) (traderx.Environment, error) {
	env, err := traderx.LookupEnvironment(name)
	if err != nil {
		return env, cli.UsageError(err)
	}
	return env, nil
}
