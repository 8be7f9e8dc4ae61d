package cub

import (
	"context"
	"sync"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// clusters is the environment → cluster mapping of this run (see
// pkg/envcluster): --kube-context, else the user's mapping file, else the
// KubeContext of the environment's ConfigHub target (once a session is open),
// else the current context.
func (g *globals) clusters() (*envcluster.Resolver, error) {
	g.clustersOnce.Do(func() {
		path := envcluster.DefaultPath(g.env.Getenv, g.env.HomeDir)
		file, err := envcluster.Load(path)
		if err != nil {
			g.clustersErr = cli.UsageError(err)
			return
		}
		g.resolver = &envcluster.Resolver{Kubeconfig: *g.kube.KubeConfig, Flag: *g.kube.Context, File: file, FilePath: path}
		if g.session != nil {
			g.resolver.Targets, g.resolver.Project = g.session.client, g.session.project
		}
	})
	return g.resolver, g.clustersErr
}

// clusterAccess connects read-only to env's own cluster (cluster.Connect:
// the transport refuses every write before it leaves the process). A wrong
// mapping is exit 2; a ConfigHub that cannot say the target's context, 3.
func (g *globals) clusterAccess(ctx context.Context, env traderx.Environment) (*cluster.Access, error) {
	r, err := g.clusters()
	if err != nil {
		return nil, err
	}
	access, where, err := r.Connect(ctx, env)
	if err != nil {
		if envcluster.IsInput(err) {
			return nil, cli.UsageError(err)
		}
		return nil, cli.Unavailable(err)
	}
	g.logCluster(where)
	return access, nil
}

// logCluster records on the run's log which cluster an environment is read on.
func (g *globals) logCluster(c envcluster.Cluster) {
	if g.session != nil {
		g.session.log.Logger().Info("cluster", "env", c.Env, "context", c.Context, "server", c.Server, "source", string(c.Source))
	}
}

// gate is the health gate of a run that applies (none when it does not:
// dry runs, --no-apply): Env.Gate, else pkg/health judging each environment
// on its own cluster. env, the one the command changes, is connected now,
// so a wrong mapping stops the command before anything changes.
func (g *globals) gate(ctx context.Context, env traderx.Environment, applies bool) (rollout.Gate, error) {
	if !applies {
		return nil, nil
	}
	if g.env.Gate != nil {
		return g.env.Gate, nil
	}
	cg := &clusterGate{g: g, byEnv: map[string]HealthGate{}}
	if _, err := cg.forEnv(ctx, env); err != nil {
		return nil, err
	}
	return cg, nil
}

// clusterGate is a HealthGate per environment, each on its own cluster.
type clusterGate struct {
	g     *globals
	mu    sync.Mutex
	byEnv map[string]HealthGate
}

func (c *clusterGate) forEnv(ctx context.Context, env traderx.Environment) (HealthGate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.byEnv[env.Name]; ok {
		return h, nil
	}
	client, err := c.g.cluster(ctx, env)
	if err != nil {
		return HealthGate{}, err
	}
	h := HealthGate{Client: client}
	c.byEnv[env.Name] = h
	return h, nil
}

// Check implements rollout.Gate on env's cluster.
func (c *clusterGate) Check(ctx context.Context, env traderx.Environment, services []string) (*check.Report, error) {
	h, err := c.forEnv(ctx, env)
	if err != nil {
		return nil, err
	}
	return h.Check(ctx, env, services)
}

// Stuck implements rollout.StuckFinder on env's cluster.
func (c *clusterGate) Stuck(ctx context.Context, env traderx.Environment, services []string, since time.Time) ([]check.Check, error) {
	h, err := c.forEnv(ctx, env)
	if err != nil {
		return nil, err
	}
	return h.Stuck(ctx, env, services, since)
}

// Watch implements rollout.Watcher on env's cluster.
func (c *clusterGate) Watch(ctx context.Context, env traderx.Environment) (rollout.Gate, <-chan struct{}, error) {
	h, err := c.forEnv(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	return h.Watch(ctx, env)
}
