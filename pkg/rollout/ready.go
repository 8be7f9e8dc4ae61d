package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// WorkerUnavailableError is an environment whose units' bridge worker is not
// connected: ConfigHub would answer every apply with 422 (or, worse, queue it
// for a worker that never picks it up). Nothing was changed.
type WorkerUnavailableError struct {
	Env, Space, Worker, Condition string
	LastSeen                      time.Time
	// During is set when the worker left in the middle of a change (e.g.
	// "while applying tier 2"): what was applied before stays, nothing more
	// was changed.
	During string
}

func (e *WorkerUnavailableError) Error() string {
	seen := "never seen"
	if !e.LastSeen.IsZero() {
		seen = "last seen " + e.LastSeen.UTC().Format(time.RFC3339)
	}
	cond := e.Condition
	if cond == "" {
		cond = "not connected"
	}
	changed := "nothing was changed"
	if e.During != "" {
		changed = e.During + "; nothing more was changed"
	}
	return fmt.Sprintf("%s: the ConfigHub worker %s of space %s is %s (%s); %s. Start it beside the cluster "+
		"(cub worker run --space %s %s) or check its Deployment in the cluster, then re-run",
		e.Env, e.Worker, e.Space, cond, seen, changed, e.Space, e.Worker)
}

// CheckReady makes sure the environment can be changed before anything is:
// every target its units use belongs to a connected bridge worker, and the
// cluster the health gates read answers. It runs once per space per Rollout.
func (r *Rollout) CheckReady(ctx context.Context, sp *confighub.Space, env traderx.Environment) error {
	if r.ready[sp.SpaceID] {
		return nil
	}
	units, err := r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return fmt.Errorf("list units of %s: %w", sp.Slug, err)
	}
	used := map[uuid.UUID]bool{}
	for _, u := range units {
		if u.Unit != nil && u.Unit.TargetID != uuid.Nil {
			used[u.Unit.TargetID] = true
		}
	}
	if len(used) > 0 {
		if err := r.workersConnected(ctx, sp, env, used); err != nil {
			return err
		}
	}
	if r.Gate != nil {
		if _, err := r.Gate.Check(ctx, env, nil); err != nil {
			return &unreachableError{fmt.Errorf("%s: cannot read the cluster the health gates judge (namespace %s); nothing was changed "+
				"(which cluster and why: %s; --kube-context overrides): %w", env.Name, env.Namespace(), hint.ConfigView(), err)}
		}
	}
	if r.ready == nil {
		r.ready = map[uuid.UUID]bool{}
	}
	r.ready[sp.SpaceID] = true
	return nil
}

func (r *Rollout) workersConnected(ctx context.Context, sp *confighub.Space, env traderx.Environment, used map[uuid.UUID]bool) error {
	targets, err := r.Hub.ListTargets(ctx, sp.SpaceID, "")
	if err != nil {
		return fmt.Errorf("list targets of %s: %w", sp.Slug, err)
	}
	workers, err := r.Hub.ListBridgeWorkers(ctx, sp.SpaceID, "")
	if err != nil {
		return fmt.Errorf("list workers of %s: %w", sp.Slug, err)
	}
	byID := map[uuid.UUID]*confighub.BridgeWorker{}
	for _, w := range workers {
		if w.BridgeWorker != nil {
			byID[w.BridgeWorker.BridgeWorkerID] = w.BridgeWorker
		}
	}
	var problems []*WorkerUnavailableError
	seen := map[uuid.UUID]bool{}
	for _, t := range targets {
		if t.Target == nil || !used[t.Target.TargetID] || seen[t.Target.BridgeWorkerID] {
			continue
		}
		seen[t.Target.BridgeWorkerID] = true
		w := byID[t.Target.BridgeWorkerID]
		switch {
		case w == nil:
			problems = append(problems, &WorkerUnavailableError{Env: env.Name, Space: sp.Slug, Worker: t.Target.BridgeWorkerID.String(), Condition: "missing"})
		case w.Condition != confighub.WorkerReady:
			problems = append(problems, &WorkerUnavailableError{Env: env.Name, Space: sp.Slug, Worker: w.Slug, Condition: w.Condition, LastSeen: w.LastSeenAt})
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Worker < problems[j].Worker })
	return problems[0]
}

// TargetChoice is the target install binds an environment's units to.
type TargetChoice struct {
	Space, Slug string
	ID          uuid.UUID
}

// chooseTarget picks the environment space's Kubernetes target: the one named
// by slug, else the only one. Targets belong to bridge workers, which
// advertise them when they connect; install never creates one.
func chooseTarget(targets []confighub.ExtendedTarget, space, slug string) (*TargetChoice, []string) {
	var kube []*confighub.Target
	for _, t := range targets {
		if t.Target != nil && t.Target.ToolchainType == confighub.ToolchainKubernetesYAML {
			kube = append(kube, t.Target)
		}
	}
	var names []string
	for _, t := range kube {
		names = append(names, t.Slug)
		if slug != "" && t.Slug == slug {
			return &TargetChoice{Space: space, Slug: t.Slug, ID: t.TargetID}, nil
		}
	}
	sort.Strings(names)
	if slug == "" && len(kube) == 1 {
		return &TargetChoice{Space: space, Slug: kube[0].Slug, ID: kube[0].TargetID}, nil
	}
	return nil, names
}

// noTargetError says how to connect a worker (or pick a target) for an
// environment. The exact cub commands are Steps, printed one per line: an
// error itself is printed as one line.
func noTargetError(env traderx.Environment, space, slug string, have []string, spaceExists bool) error {
	switch {
	case slug != "" && len(have) > 0:
		return inputf("environment %s: space %s has no Kubernetes target %q (it has %s); nothing was changed. Pick one with --target",
			env.Name, space, slug, strings.Join(have, ", "))
	case len(have) > 1:
		return inputf("environment %s: space %s has %d Kubernetes targets (%s); nothing was changed. Name the one for %s with --target",
			env.Name, space, len(have), strings.Join(have, ", "), env.Name)
	}
	worker := "traderx-worker"
	var steps []string
	if !spaceExists {
		steps = append(steps, "cub space create "+space)
	}
	steps = append(steps,
		fmt.Sprintf("cub worker create --space %s %s", space, worker),
		fmt.Sprintf("cub worker run --space %s %s   # beside the cluster, with its kubeconfig", space, worker),
		// cub worker install leaves the worker's Secret out of the manifest
		// unless asked (--include-secret), and its Deployment reads it.
		fmt.Sprintf("# or in the cluster: cub worker install --space %s %s --export --include-secret | kubectl apply -f -", space, worker))
	return &InputError{Err: fmt.Errorf("environment %s: no ConfigHub worker serves space %s yet, so its units could not be applied; "+
		"nothing was changed. Connect a worker to the cluster that runs %s (the commands above), then re-run install", env.Name, space, env.Name),
		Steps: steps}
}
