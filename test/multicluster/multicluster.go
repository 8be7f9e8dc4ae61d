// Package multicluster is the two-cluster test ground that the sandbox and the
// e2e tests share: one real control plane for dev and staging and one for
// prod, started in parallel from the same built binaries, one kubeconfig with
// a context per cluster, the user's environment → context mapping, and a
// ConfigHub bridge worker per environment space, each reaching only its own
// cluster.
package multicluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/envcluster"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

// The two clusters, by kube context.
const (
	NonProdContext = "traderx-nonprod"
	ProdContext    = "traderx-prod"
)

// WorkerSlug is the bridge worker's name in every environment space.
const WorkerSlug = "traderx-worker"

// ContextOf is the cluster an environment lives on: prod on its own.
func ContextOf(e traderx.Environment) string {
	if e.Name == "prod" {
		return ProdContext
	}
	return NonProdContext
}

// Ground is the two running control planes and the files that reach them.
type Ground struct {
	// Clusters are the control planes by kube context.
	Clusters map[string]*cluster.Cluster
	// Kubeconfig holds both contexts; the current one is NonProdContext.
	Kubeconfig string
	// ConfigHome is the XDG_CONFIG_HOME whose traderx/clusters.yaml maps
	// every environment to its context.
	ConfigHome string

	// own is, by context, a kubeconfig holding only that cluster: what a
	// worker running beside it has.
	own map[string]string
}

// Start starts both control planes under dir (cluster-<context>, replacing
// what is there) with o (its Dir is set per cluster, its Logf lines are
// prefixed with the context), then writes dir/kubeconfig and the mapping
// under dir/config. The Ground is returned also on error, holding every
// cluster that started, for the caller to Stop.
func Start(ctx context.Context, dir string, o cluster.Options) (*Ground, error) {
	g := &Ground{Clusters: map[string]*cluster.Cluster{}, own: map[string]string{},
		Kubeconfig: filepath.Join(dir, "kubeconfig"), ConfigHome: filepath.Join(dir, "config")}
	if err := g.startClusters(ctx, dir, o); err != nil {
		return g, err
	}
	if err := cluster.WriteKubeconfig(g.Kubeconfig, NonProdContext, g.Clusters); err != nil {
		return g, err
	}
	for name, c := range g.Clusters {
		g.own[name] = filepath.Join(dir, "kubeconfig-"+name)
		if err := cluster.WriteKubeconfig(g.own[name], name, map[string]*cluster.Cluster{name: c}); err != nil {
			return g, err
		}
	}
	mapping := &envcluster.File{Contexts: map[string]string{}}
	for _, e := range traderx.Environments() {
		mapping.Contexts[e.Name] = ContextOf(e)
	}
	return g, mapping.Save(envcluster.DefaultPath(func(string) string { return g.ConfigHome }, ""))
}

// startClusters starts both control planes at once: they share the built
// binaries, and starting them one after the other would double the wait.
func (g *Ground) startClusters(ctx context.Context, dir string, o cluster.Options) error {
	names := []string{NonProdContext, ProdContext}
	started := make([]*cluster.Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		co := o
		co.Dir = filepath.Join(dir, "cluster-"+name)
		if err := os.RemoveAll(co.Dir); err != nil {
			return err
		}
		if o.Logf != nil {
			co.Logf = func(f string, a ...any) { o.Logf(name+": "+f, a...) }
		}
		wg.Go(func() {
			started[i], errs[i] = cluster.Start(ctx, co)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", name, errs[i])
			}
		})
	}
	wg.Wait()
	for i, c := range started {
		if c != nil {
			g.Clusters[names[i]] = c
		}
	}
	return errors.Join(errs...)
}

// Stop stops every control plane that started.
func (g *Ground) Stop() {
	for _, c := range g.Clusters {
		c.Stop()
	}
}

// PIDs are the processes of both control planes.
func (g *Ground) PIDs() []int {
	var pids []int
	for _, c := range g.Clusters {
		pids = append(pids, c.PIDs()...)
	}
	return pids
}

// StartWorkers starts, as an operator does with `cub worker run` beside each
// cluster, a bridge worker named WorkerSlug in every environment space of
// project on hub. Each advertises only its environment's context as its
// target and applies through a kubeconfig that holds only that cluster, so a
// unit bound to the wrong environment's target cannot reach another cluster.
// log, when not nil, receives the backends' and workers' lines. On error the
// workers already started are stopped.
func (g *Ground) StartWorkers(ctx context.Context, hub *confighubtest.Server, project string, log *slog.Logger,
	opts ...confighubtest.WorkerOption) ([]*confighubtest.Worker, error) {
	if log != nil {
		opts = append(opts, confighubtest.WithWorkerLogger(log))
	}
	var workers []*confighubtest.Worker
	for _, e := range traderx.Environments() {
		kubeContext := ContextOf(e)
		own := g.own[kubeContext]
		if own == "" {
			stopAll(workers)
			return nil, fmt.Errorf("worker of %s: cluster %s is not running", e.Name, kubeContext)
		}
		backend := confighubtest.NewKubeBackend(confighubtest.KubeconfigContexts(own))
		backend.Logger = log
		w, err := hub.StartWorker(ctx, e.Space(project), WorkerSlug, []string{kubeContext}, backend, opts...)
		if err != nil {
			stopAll(workers)
			return nil, fmt.Errorf("worker of %s: %w", e.Name, err)
		}
		workers = append(workers, w)
	}
	return workers, nil
}

func stopAll(workers []*confighubtest.Worker) {
	for _, w := range workers {
		w.Stop()
	}
}
