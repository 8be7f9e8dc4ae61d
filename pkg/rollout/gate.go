package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/finos/traderx-plugins/pkg/audit"
	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/google/uuid"
)

// watchStuck polls the tier's pods created since the applies began and
// cancels the waits with a *stuckError when one fails in a way waiting does
// not cure. Read errors are left to the gate that follows.
func (r *Rollout) watchStuck(ctx context.Context, sf StuckFinder, env traderx.Environment, t tierPlan, o ApplyOptions, stop context.CancelCauseFunc) {
	// Creation times have whole seconds; a second of margin keeps the pods
	// created in the same second as the apply.
	since := r.clock().Now().Add(-time.Second).Truncate(time.Second)
	for r.clock().Sleep(ctx, o.PollInterval) == nil {
		checks, err := sf.Stuck(ctx, env, t.services, since)
		if err == nil && len(checks) > 0 {
			stop(&stuckError{checks: checks})
			return
		}
	}
}

// watchWorkers polls the workers of the tier's units while their applies
// run and cancels the waits with a *WorkerUnavailableError when one is no
// longer connected: its applies would never complete. Read errors are left
// to the waits.
func (r *Rollout) watchWorkers(ctx context.Context, sp *confighub.Space, env traderx.Environment, t tierPlan, todo []int,
	o ApplyOptions, stop context.CancelCauseFunc) {
	used := map[uuid.UUID]bool{}
	for _, i := range todo {
		used[t.units[i].eu.Unit.TargetID] = true
	}
	// Wall-clock polls, not r.clock(): this watches ConfigHub, and a fake
	// clock that sleeps at once would spin it.
	tick := time.NewTicker(o.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var wu *WorkerUnavailableError
		if err := r.workersConnected(ctx, sp, env, used); errors.As(err, &wu) {
			stop(wu)
			return
		}
	}
}

// workerLeft is the tier's failure when its worker disconnected during the
// applies: exit 3 (unreachable), naming the worker, how to start it and the
// units whose applies were cut off. A re-run after the worker is back
// applies them again (see orphaned).
func (r *Rollout) workerLeft(env traderx.Environment, t tierPlan, tr *TierResult, wu *WorkerUnavailableError, o ApplyOptions) error {
	applied, cut := tr.cutOff("apply cut off: the worker disconnected")
	wu.During = fmt.Sprintf("it disconnected while applying tier %d (%s)", t.number, strings.Join(cut, ", "))
	te := &TierError{Env: env.Name, Tier: t.number, Services: t.services, Cause: wu.Error(), Applied: applied, Failed: cut,
		Unreachable: true, Resume: o.Resume, Err: wu}
	if len(cut) > 0 {
		te.Unit = cut[0]
		for _, p := range t.units {
			if p.name == cut[0] {
				te.Service = p.service
			}
		}
	}
	r.log().Error(fmt.Sprintf("tier %d: %s", t.number, wu.Error()))
	return te
}

// observer is how a run judges the cluster while it waits: through a watch
// of the environment's namespace when the Gate is a Watcher, re-judging at
// every change, else by polling the Gate.
type observer struct {
	gate     Gate
	watching bool
	mu       sync.Mutex
	subs     []chan struct{}
}

// observe starts watching env's namespace for the rest of ctx, or falls back
// to polling when the Gate cannot watch or the watch cannot start (the
// polls then say whether the cluster is readable).
func (r *Rollout) observe(ctx context.Context, env traderx.Environment) *observer {
	w, ok := r.Gate.(Watcher)
	if !ok {
		return &observer{gate: r.Gate}
	}
	g, changed, err := w.Watch(ctx, env)
	if err != nil {
		r.log().Warn(fmt.Sprintf("%s: cannot watch namespace %s (%v); polling every %s instead", env.Name, env.Namespace(), err, DefaultPollInterval))
		return &observer{gate: r.Gate}
	}
	obs := &observer{gate: g, watching: true}
	// Every waiter hears every change: the gates and the keeper wait at once.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				obs.mu.Lock()
				for _, s := range obs.subs {
					signal(s)
				}
				obs.mu.Unlock()
			}
		}
	}()
	return obs
}

// changes is a new waiter's channel of changes; nil when polling.
func (o *observer) changes() <-chan struct{} {
	if !o.watching {
		return nil
	}
	c := make(chan struct{}, 1)
	o.mu.Lock()
	o.subs = append(o.subs, c)
	o.mu.Unlock()
	return c
}

// await sleeps d on the run's clock, returning early at a change (changed
// from observer.changes; nil: no watch). It returns only once its helper
// stopped listening, so no change is swallowed between this wait and the
// next judgement.
func (r *Rollout) await(ctx context.Context, changed <-chan struct{}, d time.Duration) error {
	if changed == nil {
		return r.clock().Sleep(ctx, d)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-changed:
			cancel()
		case <-sctx.Done():
		}
	}()
	err := r.clock().Sleep(sctx, d)
	cancel()
	<-done
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_ = err // cancelled by a change: judge again
	return nil
}

// wait is one wait for health: the services to judge and how it is named.
type wait struct {
	services []string // nil: the whole environment
	label    string   // "tier 2" in logs
	step     string   // progress step name
	// reverse drops the dependency checks (the tier gates of a rollback).
	reverse bool
	// changed says the run applied some of the services: their failing pods
	// are being replaced, so only the timeout ends the wait.
	changed bool
	// fresh judges from a new read of the cluster, not the watch's caches
	// (the watch then only says when to judge again).
	fresh bool
}

// waitHealthy judges the services until they are HEALTHY, or DEGRADED with
// nothing left settling (DEGRADED at the timeout passes), re-judging at every
// change the observer reports, or every PollInterval. It returns the last
// report and failed: "" when they passed, else why not: the timeout ran out,
// or (when nothing of theirs changed, so no new pod will replace the failing
// ones) they fail in a way waiting does not cure. Cluster read errors are
// retried with doubling backoff; past the retries the error is returned as
// an *unreachableError.
func (r *Rollout) waitHealthy(ctx context.Context, env traderx.Environment, obs *observer, w wait, o ApplyOptions) (rep *check.Report, failed string, err error) {
	log := r.log()
	clock := r.clock()
	deadline := clock.Now().Add(o.Timeout)
	delay := o.RetryDelay
	readErrors := 0
	lastReason := ""
	what := "the environment"
	if w.services != nil {
		what = strings.Join(w.services, ", ")
	}
	log.Debug(fmt.Sprintf("%s: waiting up to %s for %s to become healthy", w.label, o.Timeout, what))
	r.step(Step{Name: w.step, Note: "waiting for health"})
	changed := obs.changes()
	for {
		g := obs.gate
		if w.fresh {
			g = r.Gate
		}
		rep, err = g.Check(ctx, env, w.services)
		if err != nil {
			readErrors++
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			if readErrors > o.Retries {
				return nil, "", &unreachableError{err}
			}
			log.Warn(fmt.Sprintf("%s: health check could not read the cluster (attempt %d of %d): %v; retrying in %s",
				w.label, readErrors, o.Retries+1, err, delay))
			if err := clock.Sleep(ctx, delay); err != nil {
				return nil, "", err
			}
			delay *= 2
			continue
		}
		now := clock.Now()
		timedOut := !now.Before(deadline)
		if healthy(rep, w.reverse, timedOut) {
			msg := fmt.Sprintf("%s: %s %s", w.label, what, rep.Verdict)
			if rep.Verdict == check.VerdictDegraded {
				log.Warn(msg + ": " + rep.Reason)
			} else {
				log.Debug(msg)
			}
			return rep, "", nil
		}
		switch {
		case timedOut:
			return rep, fmt.Sprintf("not healthy after %s", o.Timeout), nil
		case !w.changed && len(health.Persistent(rep)) > 0:
			return rep, "failing in a way waiting does not cure", nil
		}
		if rep.Reason != lastReason {
			log.Debug(fmt.Sprintf("%s: waiting: %s (%s left)", w.label, rep.Reason, deadline.Sub(now).Round(time.Second)))
			r.step(Step{Name: w.step, Note: "waiting: " + rep.Reason})
			lastReason = rep.Reason
		}
		// Judge again at the next change, at the latest when a poll is due
		// (a verdict can change with time alone: a pod not ready past its
		// grace fails).
		if err := r.await(ctx, changed, min(o.PollInterval, deadline.Sub(now))); err != nil {
			return rep, "", err
		}
	}
}

// healthy reports a report HEALTHY, or DEGRADED with nothing left settling
// (or the wait timed out); rep is finalized, without its dependency checks
// in reverse order.
func healthy(rep *check.Report, reverse, timedOut bool) bool {
	if reverse {
		*rep = *withoutDependencies(rep)
	}
	rep.Finalize()
	return rep.Verdict == check.VerdictHealthy || rep.Verdict == check.VerdictDegraded && (!settling(rep) || timedOut)
}

// gate waits until the gated services of a tier are healthy: the ones it
// changed, and unchanged ones depending on a change earlier in the run. The
// changed ones are then held healthy by the keeper while the run goes on.
func (r *Rollout) gate(ctx context.Context, env traderx.Environment, obs *observer, t tierPlan, o ApplyOptions) (*check.Report, error) {
	w := wait{services: t.gated, label: fmt.Sprintf("tier %d", t.number), step: tierName(t), reverse: o.Reverse, changed: t.changed}
	rep, err := r.gateWait(ctx, env, obs, w, t, o)
	r.recordGate(env, w.label, t.gated, rep, err)
	return rep, err
}

func (r *Rollout) gateWait(ctx context.Context, env traderx.Environment, obs *observer, w wait, t tierPlan, o ApplyOptions) (*check.Report, error) {
	rep, failed, err := r.waitHealthy(ctx, env, obs, w, o)
	var ue *unreachableError
	switch {
	case errors.As(err, &ue):
		return nil, &TierError{Env: env.Name, Tier: t.number, Services: t.services,
			Cause: "cannot read the cluster to verify health: " + ue.err.Error(), Unreachable: true, Resume: o.Resume, Err: ue}
	case err != nil:
		return rep, err
	case failed != "":
		return rep, r.gateFailure(env, t, o, rep, failed)
	}
	return rep, nil
}

// verdict judges the environment at the end of an apply, once healthy
// suffices: what changed was held healthy by the keeper. It reads the
// cluster afresh (obs only wakes the waits) and includes the dependency
// checks even in reverse order. An apply limited to some services is judged
// on them and their dependents; any other on the whole environment, also when
// nothing was applied. Not HEALTHY or DEGRADED in time, or failing in a way
// waiting does not cure, is a *VerdictError.
func (r *Rollout) verdict(ctx context.Context, env traderx.Environment, obs *observer, o ApplyOptions) (*check.Report, error) {
	var services []string // nil: everything, ingress included
	if len(o.Services) > 0 {
		services = slices.Clone(o.Services)
		for _, s := range o.Services {
			services = append(services, traderx.Dependents(s)...)
		}
		slices.Sort(services)
		services = slices.Compact(services)
	}
	w := wait{services: services, label: env.Name, step: "health of " + env.Name}
	w.fresh = true
	rep, err := r.verdictWait(ctx, env, obs, w, o)
	r.recordGate(env, "verdict of "+env.Name, services, rep, err)
	return rep, err
}

func (r *Rollout) verdictWait(ctx context.Context, env traderx.Environment, obs *observer, w wait, o ApplyOptions) (*check.Report, error) {
	rep, failed, err := r.waitHealthy(ctx, env, obs, w, o)
	var ue *unreachableError
	switch {
	case errors.As(err, &ue):
		return nil, &unreachableError{fmt.Errorf("%s: cannot read the cluster to verify health (check --kube-context / KUBECONFIG): %w", env.Name, ue.err)}
	case err != nil:
		return rep, err
	case failed != "":
		r.step(Step{Name: w.step, Note: string(rep.Verdict) + ": " + rep.Reason, End: true, Failed: true})
		return rep, &VerdictError{Env: env.Name, Verdict: rep.Verdict, Why: failed, Reason: rep.Reason, Checks: failing(rep), Resume: o.Resume}
	}
	r.step(Step{Name: w.step, Note: string(rep.Verdict), End: true})
	return rep, nil
}

// recordGate writes a gate's verdict (a tier's, or the final one) as an
// audit record: only the client sees it, and an audit joins it to the
// change by the run ID.
func (r *Rollout) recordGate(env traderx.Environment, label string, services []string, rep *check.Report, err error) {
	rec := audit.Record{Time: r.clock().Now(), User: r.User, Action: "health-gate", Environment: env.Name, Units: services,
		Result: audit.ResultOK, Detail: label + ": "}
	if len(services) > 0 {
		rec.Detail += strings.Join(services, ", ") + " "
	}
	if rep != nil {
		rec.Detail += string(rep.Verdict)
	}
	if rep != nil && rep.Reason != "" {
		rec.Detail += ": " + rep.Reason
	}
	if err != nil {
		rec.Result, rec.Error = audit.ResultFailed, err.Error()
	}
	r.audit().Record(rec)
}

// settling reports warnings that go away by themselves: a rollout in
// progress, pods still starting. The gate keeps waiting for them (up to the
// timeout) rather than passing DEGRADED at once.
func settling(rep *check.Report) bool {
	return slices.ContainsFunc(rep.Checks, health.Settling)
}

func (r *Rollout) gateFailure(env traderx.Environment, t tierPlan, o ApplyOptions, rep *check.Report, why string) *TierError {
	te := r.tierFailure(env, t, o, failing(rep), why)
	if te.Unit == "" {
		te.Cause = why + ": " + rep.Reason
	}
	return te
}

func failing(rep *check.Report) []check.Check {
	var out []check.Check
	for _, c := range rep.Checks {
		if c.Status == check.StatusFail {
			out = append(out, c)
		}
	}
	return out
}

// tierFailure is a tier's failure on failing checks, naming the unit behind
// the first one that a unit of the tier owns.
func (r *Rollout) tierFailure(env traderx.Environment, t tierPlan, o ApplyOptions, failing []check.Check, why string) *TierError {
	te := &TierError{Env: env.Name, Tier: t.number, Services: t.services, Checks: failing, Resume: o.Resume, Cause: why}
	// Name the unit behind the first failing check: the unit whose object the
	// check names, else the first unit of the service it names.
	for _, c := range failing {
		var bySvc *planned
		for i := range t.units {
			p := &t.units[i]
			if strings.Contains(c.Target, strings.TrimSuffix(p.name, "-deployment")) && strings.HasSuffix(p.name, "-deployment") {
				bySvc = p
				break
			}
			if bySvc == nil && p.service != "" && strings.Contains(c.Target, p.service) {
				bySvc = p
			}
		}
		if bySvc != nil {
			te.Unit, te.Service = bySvc.name, bySvc.service
			te.Cause = fmt.Sprintf("%s: %s %s: %s", why, c.Target, c.Name, c.Message)
			break
		}
	}
	return te
}

// withoutDependencies drops the dependency checks of a report. In reverse
// order (rollbacks) a tier is applied before the tiers it depends on, so its
// dependencies may still be broken by the change being undone; they are
// judged when the whole environment is, after the last tier.
func withoutDependencies(rep *check.Report) *check.Report {
	out := check.NewReport(rep.Kind, rep.Environment, rep.Namespace)
	for _, c := range rep.Checks {
		if c.Suite != health.SuiteDependencies {
			out.Add(c)
		}
	}
	return out
}
