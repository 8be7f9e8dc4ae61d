package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// BlueGreenAbortOptions tune BlueGreenAbort.
type BlueGreenAbortOptions struct {
	// Service is one of the blue-green services (see BlueGreenService).
	Service      traderx.Service
	Cluster      Reader
	Timeout      time.Duration
	PollInterval time.Duration
	Retries      int
	RetryDelay   time.Duration
}

// check checks the service and makes the options of the colour helpers.
func (o BlueGreenAbortOptions) check() (BlueGreenOptions, traderx.Service, error) {
	bo := BlueGreenOptions{Service: o.Service, Cluster: o.Cluster, Timeout: o.Timeout, PollInterval: o.PollInterval, Retries: o.Retries, RetryDelay: o.RetryDelay}
	bo.defaults()
	svc := o.Service
	if err := eligible(svc); err != nil {
		return bo, svc, err
	}
	if o.Cluster == nil {
		return bo, svc, errors.New("rollout: an abort needs a cluster reader")
	}
	return bo, svc, nil
}

// BlueGreenAbortResult says what abort kept.
type BlueGreenAbortResult struct {
	Environment string        `json:"environment"`
	Service     string        `json:"service"`
	Kept        string        `json:"kept"`
	ScaledDown  string        `json:"scaledDown"`
	Run         *BlueGreenRun `json:"run,omitempty"`
	Reason      string        `json:"reason"`
}

// BlueGreenAbort brings a blue-green service to a consistent state: the
// Service on one colour with ready endpoints, the other at zero, no run
// recorded. It keeps the colour that served before an unfinished run (the
// new one once a run passed its soak) when its Deployment is healthy, else
// the other colour when that one is; with neither healthy it keeps the
// preferred one (scaled up if needed) and fails if it does not become ready.
// sp is the environment's space.
func (r *Rollout) BlueGreenAbort(ctx context.Context, sp *confighub.Space, env traderx.Environment, o BlueGreenAbortOptions) (*BlueGreenAbortResult, error) {
	bo, svc, err := o.check()
	if err != nil {
		return nil, err
	}
	st, err := r.blueGreenState(ctx, sp, env, svc)
	if err != nil {
		return nil, err
	}
	if err := r.refuseDuringCanary(st, env, svc); err != nil {
		return nil, err
	}
	if _, err := r.user(ctx); err != nil {
		return nil, err
	}
	res := &BlueGreenAbortResult{Environment: env.Name, Service: svc.Name, Run: st.Run}
	prefer := st.Active
	switch {
	case st.Run != nil && st.Run.Phase == PhaseStandby || st.Run != nil && st.Run.Phase == PhaseDecommission:
		prefer, res.Reason = traderx.OtherColour(st.Run.Previous), "the unfinished run had passed its soak"
	case st.Run != nil:
		prefer, res.Reason = st.Run.Previous, fmt.Sprintf("%s served before the unfinished run to %s", st.Run.Previous, st.Run.Version)
	default:
		res.Reason = "no run is recorded; the Service unit selects " + prefer
	}
	keep := prefer
	snap, err := o.Cluster.Snapshot(ctx, env.Namespace())
	if err != nil {
		return nil, &unreachableError{err}
	}
	healthy := func(c string) bool {
		cs := st.Colour(c)
		if cs.Replicas == 0 {
			return false
		}
		fatal, pending := colourProblems(snap, env, svc, c, cs.Image, cs.Replicas)
		return len(fatal)+len(pending) == 0
	}
	if !healthy(prefer) && healthy(traderx.OtherColour(prefer)) {
		keep = traderx.OtherColour(prefer)
		res.Reason = fmt.Sprintf("%s is not healthy and %s is", prefer, keep)
	}
	res.Kept, res.ScaledDown = keep, traderx.OtherColour(keep)
	replicas := max(st.Colour(keep).Replicas, st.Colour(res.ScaledDown).Replicas)
	if replicas == 0 {
		replicas = env.ReplicasFor(svc)
	}
	r.log().Info(fmt.Sprintf("%s: blue-green abort %s: keeping %s (%s), %s to zero", env.Name, svc.Name, keep, res.Reason, res.ScaledDown))
	start := r.clock().Now()
	err = r.converge(ctx, st, env, svc, keep, replicas, fmt.Sprintf("blue-green abort %s: keep %s", svc.Name, keep), bo)
	r.record("blue-green-abort", env.Name, []string{st.ServiceUnit, manifests.DeploymentUnitName(svc, keep), manifests.DeploymentUnitName(svc, res.ScaledDown)}, nil, start, err)
	return res, err
}
