package cub

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

const restartExample = `  # Roll every pod of trade-feed in dev
  %[1]s restart dev trade-feed

  # In prod, with a reason on the release
  %[1]s restart prod trade-service --change-desc "pick up rotated certificates" --yes`

type restartOptions struct {
	g *globals
	day2Target
	day2Flags
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
		RunE:              runVerb(o),
	}
	o.day2Flags.addTo(g, cmd)
	return cmd
}

// Complete resolves the environment and the service.
func (o *restartOptions) Complete(args []string) error { return o.day2Target.complete(args) }

// Validate checks the flags.
func (o *restartOptions) Validate() error { return o.applyFlags.validate() }

// Run restarts and applies.
func (o *restartOptions) Run(ctx context.Context) error {
	return runChange(ctx, o.g, &o.day2Flags, "restart", o.env, func(ctx context.Context, r *rollout.Rollout, sp *confighub.Space, co rollout.ChangeOptions) (*rollout.ChangeResult, error) {
		return r.Restart(ctx, sp, o.env, rollout.RestartOptions{Service: o.svc, ChangeOptions: co})
	})
}
