package cub

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

const scaleExample = `  # Three replicas of people-service in staging
  %[1]s scale staging people-service 3

  # Blue-green services scale their active colour
  %[1]s scale dev trade-service 2

  # Taking a service offline in prod needs --force (and --yes or a confirmation)
  %[1]s scale prod people-service 0 --force --yes`

type scaleOptions struct {
	g     *globals
	force bool
	changeFlags
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
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "Allow 0 replicas in a protected environment")
	o.changeFlags.addTo(cmd)
	g.approval.addTo(cmd)
	return cmd
}

func (o *scaleOptions) run(ctx context.Context, args []string) error {
	env, svc, err := lookupEnvService(args[0], args[1])
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(args[2], 10, 32)
	if err != nil {
		return cli.Usagef("replicas must be a whole number, got %q", args[2])
	}
	replicas := int32(n)
	if err := rollout.CheckScale(env, svc, replicas, o.force); err != nil {
		return cli.UsageError(err)
	}
	if err := o.validate(); err != nil {
		return err
	}
	return runChange(ctx, o.g, &o.changeFlags, "scale", env, func(ctx context.Context, r *rollout.Rollout, co rollout.ChangeOptions) (*rollout.ChangeResult, error) {
		return r.Scale(ctx, env, rollout.ScaleOptions{Service: svc.Name, Replicas: replicas, Force: o.force, ChangeOptions: co})
	})
}
