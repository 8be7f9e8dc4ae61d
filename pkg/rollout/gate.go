package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// gate polls the health of a tier's services until HEALTHY or DEGRADED, or
// the timeout. Cluster read errors are retried with backoff.
func (r *Rollout) gate(ctx context.Context, env traderx.Environment, t tierPlan, o ApplyOptions) (*check.Report, error) {
	log := r.log()
	clock := r.clock()
	deadline := clock.Now().Add(o.Timeout)
	delay := o.RetryDelay
	readErrors := 0
	lastReason := ""
	var healthySince time.Time
	announced := false
	log.Debug(fmt.Sprintf("tier %d: waiting up to %s for %s to become healthy", t.number, o.Timeout, strings.Join(t.services, ", ")))
	name := tierName(t)
	r.step(Step{Name: name, Note: "waiting for health"})
	for {
		rep, err := r.Gate.Check(ctx, env, t.services)
		if err != nil {
			readErrors++
			if readErrors > o.Retries || ctx.Err() != nil {
				return nil, &TierError{Env: env.Name, Tier: t.number, Services: t.services,
					Cause: "cannot read the cluster to verify health: " + err.Error(), Unreachable: true, Resume: o.Resume, Err: &unreachableError{err}}
			}
			log.Warn(fmt.Sprintf("tier %d: health check could not read the cluster (attempt %d of %d): %v; retrying in %s",
				t.number, readErrors, o.Retries+1, err, delay))
			if err := clock.Sleep(ctx, delay); err != nil {
				return nil, err
			}
			delay *= 2
			continue
		}
		if o.Reverse {
			rep = withoutDependencies(rep)
		}
		rep.Finalize()
		now := clock.Now()
		timedOut := !now.Before(deadline)
		ok := rep.Verdict == check.VerdictHealthy || rep.Verdict == check.VerdictDegraded && (!settling(rep) || timedOut)
		if !ok {
			healthySince, announced = time.Time{}, false
		} else if healthySince.IsZero() {
			healthySince = now
		}
		stable := ok && (now.Sub(healthySince) >= o.Settle || timedOut)
		switch {
		case ok && !stable:
			if !announced {
				log.Debug(fmt.Sprintf("tier %d: %s %s; checking it stays so for %s", t.number, strings.Join(t.services, ", "), rep.Verdict, o.Settle))
				r.step(Step{Name: name, Note: fmt.Sprintf("%s; checking it stays so for %s", rep.Verdict, o.Settle)})
				announced = true
			}
		case stable:
			msg := fmt.Sprintf("tier %d: %s %s", t.number, strings.Join(t.services, ", "), rep.Verdict)
			if rep.Verdict == check.VerdictDegraded {
				log.Warn(msg + ": " + rep.Reason)
			} else {
				log.Debug(msg)
			}
			r.recordGate(env, t, rep, nil)
			return rep, nil
		case timedOut:
			te := r.gateFailure(env, t, o, rep)
			r.recordGate(env, t, rep, te)
			return rep, te
		}
		if !ok && rep.Reason != lastReason {
			log.Debug(fmt.Sprintf("tier %d: waiting: %s (%s left)", t.number, rep.Reason, deadline.Sub(clock.Now()).Round(time.Second)))
			r.step(Step{Name: name, Note: "waiting: " + rep.Reason})
			lastReason = rep.Reason
		}
		if err := clock.Sleep(ctx, o.PollInterval); err != nil {
			return rep, err
		}
	}
}

// recordGate writes a tier gate's verdict as an audit record: only the
// client sees it, and an audit joins it to the change by the run ID.
func (r *Rollout) recordGate(env traderx.Environment, t tierPlan, rep *check.Report, err error) {
	rec := audit.Record{Time: r.clock().Now(), User: r.User, Action: "health-gate", Environment: env.Name, Units: t.services,
		Result: audit.ResultOK, Detail: fmt.Sprintf("tier %d: %s %s", t.number, strings.Join(t.services, ", "), rep.Verdict)}
	if rep.Reason != "" {
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

func (r *Rollout) gateFailure(env traderx.Environment, t tierPlan, o ApplyOptions, rep *check.Report) *TierError {
	var failing []check.Check
	for _, c := range rep.Checks {
		if c.Status == check.StatusFail {
			failing = append(failing, c)
		}
	}
	te := r.tierFailure(env, t, o, failing, fmt.Sprintf("not healthy after %s", o.Timeout))
	if te.Unit == "" {
		te.Cause = fmt.Sprintf("not healthy after %s: %s", o.Timeout, rep.Reason)
	}
	return te
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
