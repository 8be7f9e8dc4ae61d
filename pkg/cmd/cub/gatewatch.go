package cub

import (
	"context"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Watch implements rollout.Watcher: one LIST and WATCH per kind of the
// environment's namespace for the rest of ctx, so the gates of an apply
// judge from memory at every change instead of listing everything per poll.
func (h HealthGate) Watch(ctx context.Context, env traderx.Environment) (rollout.Gate, <-chan struct{}, error) {
	w, err := cluster.Watch(ctx, h.Client, env.Namespace())
	if err != nil {
		return nil, nil, err
	}
	return watchedGate{w}, w.Changed(), nil
}

// watchedGate judges from a watch's caches; it is a StuckFinder too.
type watchedGate struct{ w *cluster.Watcher }

func (g watchedGate) judge(ctx context.Context, env traderx.Environment, o health.Options) (*check.Report, error) {
	s, err := g.w.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return health.Judge(ctx, s, env, o), nil
}

// Check implements rollout.Gate.
func (g watchedGate) Check(ctx context.Context, env traderx.Environment, services []string) (*check.Report, error) {
	return g.judge(ctx, env, health.Options{Services: services})
}

// Stuck implements rollout.StuckFinder.
func (g watchedGate) Stuck(ctx context.Context, env traderx.Environment, services []string, since time.Time) ([]check.Check, error) {
	rep, err := g.judge(ctx, env, health.Options{Services: services, PodsSince: since})
	if err != nil {
		return nil, err
	}
	return health.Persistent(rep), nil
}
