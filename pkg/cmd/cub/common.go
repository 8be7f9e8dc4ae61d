package cub

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// applyFlags tune the ordered apply every mutating command ends with.
type applyFlags struct {
	timeout    time.Duration
	settle     time.Duration
	retries    int
	retryDelay time.Duration
}

func (a *applyFlags) addTo(f *pflag.FlagSet) {
	f.DurationVar(&a.timeout, "timeout", rollout.DefaultTimeout, "How long each tier may take to become healthy (and each apply to finish)")
	f.DurationVar(&a.settle, "settle", rollout.DefaultSettle, "How long what a tier changed must stay healthy without a break; tiers that depend on it wait, others go on (0: no hold)")
	f.IntVar(&a.retries, "retries", rollout.DefaultRetries, "Retries of a failed apply or unreadable health check")
	f.DurationVar(&a.retryDelay, "retry-delay", rollout.DefaultRetryDelay, "First retry delay; doubles on each retry")
}

func (a *applyFlags) validate() error {
	switch {
	case a.timeout <= 0:
		return cli.Usagef("--timeout must be positive, got %s", a.timeout)
	case a.settle < 0:
		return cli.Usagef("--settle must not be negative, got %s", a.settle)
	case a.retries < 0:
		return cli.Usagef("--retries must be 0 or more, got %d", a.retries)
	case a.retryDelay < 0:
		return cli.Usagef("--retry-delay must not be negative, got %s", a.retryDelay)
	}
	return nil
}

// options turns the flags into rollout options; rollout reads 0 as "default",
// so an explicit 0 becomes "none" (-1).
func (a *applyFlags) options(g *globals) rollout.ApplyOptions {
	o := rollout.ApplyOptions{Retries: a.retries, RetryDelay: a.retryDelay, Timeout: a.timeout, Settle: a.settle,
		PollInterval: g.env.PollInterval}
	if a.retries == 0 {
		o.Retries = -1
	}
	if a.settle == 0 {
		o.Settle = -1
	}
	return o
}

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
