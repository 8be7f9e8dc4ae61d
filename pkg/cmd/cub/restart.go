package cub

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/rollout"
)

const restartExample = `  # Roll every pod of trade-feed in dev
  %[1]s restart dev trade-feed

  # In prod, with a reason on the release
  %[1]s restart prod trade-service --change-desc "pick up rotated certificates" --yes`

type restartOptions struct {
	g *globals
	changeFlags
}

func newRestartCommand(g *globals) *cobra.Command {
	o := &restartOptions{g: g}
	cmd := &cobra.Command{
		Use:   "restart <env> <service>",
		Short: "Roll a service's pods through ConfigHub (a pod-template annotation), with health gates",
		Long: `A rolling restart expressed as configuration, like 'kubectl rollout restart'
but through ConfigHub: sets the pod-template annotation
` + rollout.RestartedAtAnnotation + ` to the current time in the service's
Deployment unit (the active colour of a blue-green service), applies it with a
health gate and records a release "restart <deployment> at <time>". The
Deployment's rolling update strategy replaces the pods.`,
		Example:           fmt.Sprintf(restartExample, "cub traderx"),
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeEnvService,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	o.changeFlags.addTo(cmd)
	g.approval.addTo(cmd)
	return cmd
}

func (o *restartOptions) run(ctx context.Context, args []string) error {
	env, svc, err := lookupEnvService(args[0], args[1])
	if err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return runChange(ctx, o.g, &o.changeFlags, "restart", env, func(ctx context.Context, r *rollout.Rollout, co rollout.ChangeOptions) (*rollout.ChangeResult, error) {
		return r.Restart(ctx, env, rollout.RestartOptions{Service: svc.Name, ChangeOptions: co})
	})
}
