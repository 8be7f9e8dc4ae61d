package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// CanaryAbort ends an unfinished canary through ConfigHub. Before the last
// step has passed, the colour that served before the canary gets its
// replicas back and is selected alone, the new one goes to zero; after it
// (the release recorded, the old colour on standby) the new colour stays
// and the old one goes to zero. No release is recorded. A canary running
// in another process stops at its next analysis sample when it sees the
// run ended. The options and the result are blue-green abort's.
func (r *Rollout) CanaryAbort(ctx context.Context, sp *confighub.Space, env traderx.Environment, o BlueGreenAbortOptions) (*BlueGreenAbortResult, error) {
	bo, svc, err := o.check()
	if err != nil {
		return nil, err
	}
	st, run, err := r.canaryState(ctx, sp, env, svc)
	if err != nil {
		return nil, err
	}
	if _, err := r.user(ctx); err != nil {
		return nil, err
	}
	res := &BlueGreenAbortResult{Environment: env.Name, Service: svc.Name}
	desc := fmt.Sprintf("canary abort %s", svc.Name)
	start := r.clock().Now()
	if run.Phase == CanaryPhaseStandby {
		res.Kept, res.ScaledDown, res.Reason = traderx.OtherColour(run.Previous), run.Previous, "the canary had passed its last step"
		r.log().Info(fmt.Sprintf("%s: canary abort %s: keeping %s (%s), %s to zero", env.Name, svc.Name, res.Kept, res.Reason, res.ScaledDown))
		err = r.retire(ctx, st, env, svc, run.Previous, desc+": retire "+run.Previous, bo)
	} else {
		res.Kept, res.ScaledDown = run.Previous, traderx.OtherColour(run.Previous)
		res.Reason = fmt.Sprintf("%s served before the canary to %s", run.Previous, run.Version)
		r.log().Info(fmt.Sprintf("%s: canary abort %s: %s back to %d replica(s) and selected alone, %s to zero", env.Name, svc.Name, res.Kept, run.Replicas, res.ScaledDown))
		err = r.restore(ctx, st, env, svc, run, desc, bo)
	}
	r.record("canary-abort", env.Name, []string{st.ServiceUnit, manifests.DeploymentUnitName(svc, res.Kept), manifests.DeploymentUnitName(svc, res.ScaledDown)}, nil, start, err)
	return res, err
}

// CanaryPromote asks the unfinished canary of a service to skip its
// remaining steps: the request is recorded on the Service unit, where the
// running canary sees it at its next analysis sample (a canary resumed
// later sees it at once). Nothing else changes here.
func (r *Rollout) CanaryPromote(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service) (*CanaryRun, error) {
	if err := eligible(svc); err != nil {
		return nil, err
	}
	st, run, err := r.canaryState(ctx, sp, env, svc)
	if err != nil {
		return nil, err
	}
	if run.Phase != CanaryPhaseSteps {
		return nil, inputf("the canary of %s to %s in %s is past its steps (phase %s): nothing to promote", svc.Name, run.Version, env.Name, run.Phase)
	}
	user, err := r.user(ctx)
	if err != nil {
		return nil, err
	}
	run.Promote = fmt.Sprintf("%s at %s", user, r.clock().Now().UTC().Format(time.RFC3339))
	start := r.clock().Now()
	err = r.setCanary(ctx, st, run)
	r.record("canary-promote", env.Name, []string{st.ServiceUnit}, nil, start, err)
	return run, err
}

// canaryState reads the service and its unfinished canary; none is input
// the user can fix.
func (r *Rollout) canaryState(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service) (*BlueGreenState, *CanaryRun, error) {
	st, err := r.blueGreenState(ctx, sp, env, svc)
	if err != nil {
		return nil, nil, err
	}
	if st.Canary == nil {
		return nil, nil, inputf("no canary of %s is recorded in %s (start one with `%s`)", svc.Name, env.Name, r.next(hint.Canary(svc.Name, hint.Version, env.Name)))
	}
	return st, st.Canary, nil
}

// CanaryView is where a canary stands, for `canary status`.
type CanaryView struct {
	*BlueGreenState
	// Step is the planned step in progress (nil without a canary or past
	// the steps).
	Step *CanaryStep `json:"step,omitempty"`
	// TimeLeft is what remains of the step's analysis (zero when it is
	// over or the step has not started its analysis).
	TimeLeft time.Duration `json:"timeLeft,omitempty"`
}

// CanaryStatus reads where a blue-green service and its canary stand, as
// BlueGreenStatus does, plus the step's planned weights and time left.
func (r *Rollout) CanaryStatus(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service, c Reader) (*CanaryView, error) {
	st, err := r.BlueGreenStatus(ctx, sp, env, svc, c)
	if err != nil {
		return nil, err
	}
	v := &CanaryView{BlueGreenState: st}
	run := st.Canary
	if run == nil || run.Phase != CanaryPhaseSteps {
		return v, nil
	}
	s := CanarySteps(run.Replicas, run.Steps)[run.Step-1]
	v.Step = &s
	if started, err := time.Parse(time.RFC3339, run.StepStarted); err == nil {
		v.TimeLeft = max(started.Add(run.StepDuration).Sub(r.clock().Now()), 0).Round(time.Second)
	}
	return v, nil
}
