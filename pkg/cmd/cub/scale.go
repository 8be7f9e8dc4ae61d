package cub

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

const scaleExample = `  # Three replicas of people-service in staging
  %[1]s scale staging people-service 3

  # Blue-green services scale their active colour
  %[1]s scale dev trade-service 2

  # Taking a service offline in prod needs --force (and --yes or a confirmation)
  %[1]s scale prod people-service 0 --force --yes`

type scaleOptions struct {
	g *globals
	day2Target
	replicas int32
	force    bool
	day2Flags
}

func newScaleCommand(g *globals) *cobra.Command {
	o := &scaleOptions{g: g}
	cmd := &cobra.Command{
		Use:   "scale <env> <service> <replicas>",
		Short: "Change a service's replica count in its ConfigHub unit, apply it and verify health",
		Long: `Sets spec.replicas of the service's Deployment unit in ConfigHub (a new head
revision), applies the service's units with a health gate and records a
release "scale <deployment> <replicas>". For a blue-green service the active
colour is scaled: the colour the selector of its Service unit names.

The model's limits hold: database and trade-processor never run more than one
replica (the reason is printed), and 0 replicas in a protected environment
needs --force.`,
		Example:           fmt.Sprintf(scaleExample, "cub traderx"),
		Args:              cobra.ExactArgs(3),
		ValidArgsFunction: completeEnvService,
		RunE:              runVerb(o),
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "Allow 0 replicas in a protected environment")
	o.day2Flags.addTo(g, cmd)
	return cmd
}

// Complete resolves the environment, the service and the replica count.
func (o *scaleOptions) Complete(args []string) error {
	if err := o.day2Target.complete(args); err != nil {
		return err
	}
	n, err := strconv.ParseInt(args[2], 10, 32)
	if err != nil {
		return cli.Usagef("replicas must be a whole number, got %q", args[2])
	}
	o.replicas = int32(n)
	return nil
}

// Validate holds the model's limits and checks the flags.
func (o *scaleOptions) Validate() error {
	if err := rollout.CheckScale(o.env, o.svc, o.replicas, o.force); err != nil {
		return cli.UsageError(err)
	}
	return o.applyFlags.validate()
}

// Run scales and applies.
func (o *scaleOptions) Run(ctx context.Context) error {
	return runChange(ctx, o.g, &o.day2Flags, "scale", o.env, func(ctx context.Context, r *rollout.Rollout, sp *confighub.Space, co rollout.ChangeOptions) (*rollout.ChangeResult, error) {
		return r.Scale(ctx, sp, o.env, rollout.ScaleOptions{Service: o.svc, Replicas: o.replicas, Force: o.force, ChangeOptions: co})
	})
}
