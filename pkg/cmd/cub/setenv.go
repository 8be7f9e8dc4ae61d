package cub

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

const setEnvExample = `  # Turn on debug logging of account-service in dev
  %[1]s set-env dev account-service LOG_LEVEL=debug

  # Several at once, and remove one
  %[1]s set-env staging trade-feed NODE_OPTIONS=--max-old-space-size=256 --unset DEBUG

  # Variables the model owns (wiring, port, circuit breakers) need --force; the result is still validated
  %[1]s set-env dev account-service PEOPLE_SERVICE_HOST=people-service --force`

type setEnvOptions struct {
	g *globals
	day2Target
	set   []rollout.EnvVar
	unset []string
	force bool
	day2Flags
}

func newSetEnvCommand(g *globals) *cobra.Command {
	o := &setEnvOptions{g: g}
	cmd := &cobra.Command{
		Use:   "set-env <env> <service> [KEY=VALUE...] [--unset KEY]",
		Short: "Set or unset a service's environment variables in ConfigHub, validated, then apply",
		Long: `Sets (KEY=VALUE) and removes (--unset KEY) environment variables of the
service's main container in its Deployment unit(s) — both colours of a
blue-green service, so a switch keeps them — then applies the service's units
with a health gate and records a release "set-env <service> ...".

Variables the TraderX model owns are refused unless --force: the service's
wiring to other services (e.g. PEOPLE_SERVICE_HOST), the port it listens on,
and CIRCUIT_BREAKER_*. Before anything is written, the environment's units
(their ConfigHub head data with the change applied in memory) go through the
offline validation suites of 'kubectl traderx validate'; a change that makes a
validation FAIL is refused (exit 1) with the failing validations listed.
Validations that failed before the change already are reported, not blamed.`,
		Example:           fmt.Sprintf(setEnvExample, "cub traderx"),
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeEnvService,
		RunE:              runVerb(o),
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.unset, "unset", nil, "Remove this variable (repeatable)")
	f.BoolVar(&o.force, "force", false, "Allow changing variables the TraderX model owns (the result must still validate)")
	o.day2Flags.addTo(g, cmd)
	return cmd
}

// Complete resolves the environment and the service and parses KEY=VALUE.
func (o *setEnvOptions) Complete(args []string) error {
	if err := o.day2Target.complete(args); err != nil {
		return err
	}
	var err error
	if o.set, err = rollout.ParseEnvAssignments(args[2:]); err != nil {
		return cli.UsageError(err)
	}
	return nil
}

// Validate refuses an empty change and, without --force, variables the
// model owns.
func (o *setEnvOptions) Validate() error {
	if len(o.set) == 0 && len(o.unset) == 0 {
		return cli.Usagef("nothing to change: give KEY=VALUE arguments or --unset KEY")
	}
	var owned []string
	for _, k := range append(envNames(o.set), o.unset...) {
		if why := rollout.ModelOwnedEnv(o.svc, k); why != "" && !slices.Contains(owned, k) {
			owned = append(owned, fmt.Sprintf("%s (%s)", k, why))
		}
	}
	if len(owned) > 0 && !o.force {
		return cli.Usagef("refused: the TraderX model owns %s of %s: change the model, or pass --force (the result is validated either way)", strings.Join(owned, "; "), o.svc.Name)
	}
	return o.applyFlags.validate()
}

// Run writes the variables, validated, and applies.
func (o *setEnvOptions) Run(ctx context.Context) error {
	return runChange(ctx, o.g, &o.day2Flags, "set-env", o.env, func(ctx context.Context, r *rollout.Rollout, sp *confighub.Space, co rollout.ChangeOptions) (*rollout.ChangeResult, error) {
		return r.SetEnv(ctx, sp, o.env, rollout.SetEnvOptions{Service: o.svc, Set: o.set, Unset: o.unset, Force: o.force, ChangeOptions: co})
	})
}

func envNames(es []rollout.EnvVar) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}
