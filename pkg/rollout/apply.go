package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Defaults of ApplyOptions.
const (
	DefaultRetries      = 3
	DefaultRetryDelay   = 5 * time.Second
	DefaultTimeout      = 120 * time.Second
	DefaultPollInterval = 2 * time.Second
	// DefaultSettle is how long the services a tier changed must stay
	// healthy without a break (see keeper). A crash-looping container often
	// passes readiness once before it crashes; the hold starts when the
	// tier's gate finds the services healthy, after ConfigHub's worker
	// reported the apply complete, which it does once the new pods are
	// ready. The local control plane's kwok stage (test/cluster/stages)
	// crashes such a pod 3 to 4 s after it became ready, so 5 s catches it
	// with a second to spare for kwok and the watch to deliver it. Unchanged
	// tiers are not held: their pods did not move.
	DefaultSettle = 5 * time.Second
)

// ApplyOptions tune Apply. Zero values take the defaults.
type ApplyOptions struct {
	// Services limits the rollout to these services' units; empty = every unit.
	Services []string
	// Retries after the first try of an apply or a gate read (default 3; <0: none).
	Retries int
	// RetryDelay is the first backoff, doubling each retry (default 5s: 5, 10, 20).
	RetryDelay time.Duration
	// Timeout bounds each tier's health gate and each apply's wait (default 120s).
	Timeout time.Duration
	// PollInterval is how often the gate re-reads the cluster (default 2s).
	PollInterval time.Duration
	// Settle is how long the services a tier changed must stay healthy
	// without a break from when its gate found them so, so pods that crash
	// soon after becoming ready are caught (default 5s; <0: none). A later
	// tier depending on them waits for it, others go on meanwhile; the run
	// ends once every hold is over, and a break stops it. Services that did not change but depend on a changed
	// one are judged once; the rest by the verdict at the end.
	Settle time.Duration
	// ChangeDesc describes the release; a generated one when empty.
	ChangeDesc string
	DryRun     bool
	// Reverse applies the tiers in reverse dependency order (rollbacks: the
	// consumers step back before what they consume).
	Reverse bool
	// Resume is the command printed when a tier fails.
	Resume string
	// NoRefresh skips the drift check of the units live at head. By default
	// a dry-run refresh finds the ones changed outside ConfigHub, and they
	// are applied again (head repairs drift; a refresh would adopt it).
	NoRefresh bool
}

func (o *ApplyOptions) defaults() {
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Settle == 0 {
		o.Settle = DefaultSettle
	}
	if o.Settle < 0 {
		o.Settle = 0
	}
}

// Unit outcomes in an ApplyResult.
const (
	UnitApplied  = "applied"
	UnitSkipped  = "skipped" // live at head already
	UnitFailed   = "failed"
	UnitPlanned  = "would apply" // dry run
	UnitUntouchd = "not started"
)

// UnitResult is what happened to one unit.
type UnitResult struct {
	Unit     string `json:"unit"`
	Service  string `json:"service,omitempty"`
	Tier     int    `json:"tier"`
	Outcome  string `json:"outcome"`
	Revision int64  `json:"revision"`
	Attempts int    `json:"attempts,omitempty"`
	Cause    string `json:"cause,omitempty"`
	// Repair says why a unit live at head was applied again (drift).
	Repair string `json:"repair,omitempty"`
}

// TierResult is one tier of a rollout.
type TierResult struct {
	Number   int           `json:"number"`
	Services []string      `json:"services,omitempty"`
	Units    []UnitResult  `json:"units"`
	Verdict  check.Verdict `json:"verdict,omitempty"`
}

// Release is a recorded release of an environment: a tag on the live
// revision of every unit.
type Release struct {
	Number      int              `json:"number"`
	Tag         string           `json:"tag"`
	TagID       uuid.UUID        `json:"tagID"`
	Environment string           `json:"environment"`
	Description string           `json:"description"`
	User        string           `json:"user"`
	Time        time.Time        `json:"time"`
	Units       map[string]int64 `json:"units,omitempty"`
}

// ApplyResult is the account of an Apply.
type ApplyResult struct {
	Environment string       `json:"environment"`
	Space       string       `json:"space"`
	Tiers       []TierResult `json:"tiers"`
	Applied     int          `json:"applied"`
	Skipped     int          `json:"skipped"`
	Release     *Release     `json:"release,omitempty"`
	DryRun      bool         `json:"dryRun,omitempty"`
	// Verdict is the health of the environment at the end (of the services
	// applied and their dependents when the apply was limited to some).
	Verdict check.Verdict `json:"verdict,omitempty"`
	Reason  string        `json:"reason,omitempty"`
}

// Apply rolls an environment out through ConfigHub: tier by tier in
// dependency order (namespace, network policies with the first service
// tier, service tiers, ingress last), the units of a tier applied
// concurrently and each apply waited for. After a tier, a health gate on what
// the run changed in it and on the unchanged services there that depend on a
// change: they must become HEALTHY or DEGRADED; tiers with neither are not
// gated. What changed must then stay so for o.Settle; tiers depending on it
// wait for that, others go on (see keeper). Last, the verdict on the whole environment (see verdict),
// also when nothing was applied. Failed
// applies and unreadable gates are retried with doubling backoff. The first
// failing tier stops the run with a *TierError. Units already live at their
// head revision are skipped, so a re-run resumes. A run that applied
// anything records release N of the environment (see RecordRelease).
func (r *Rollout) Apply(ctx context.Context, env traderx.Environment, o ApplyOptions) (*ApplyResult, error) {
	sp, err := r.Space(ctx, env)
	if err != nil {
		return nil, err
	}
	return r.applyIn(ctx, sp, env, o)
}

// applyIn is Apply in the environment's space sp, which the caller (a
// day-2 change, a promotion, a rollback) has read already.
func (r *Rollout) applyIn(ctx context.Context, sp *confighub.Space, env traderx.Environment, o ApplyOptions) (*ApplyResult, error) {
	o.defaults()
	if !o.DryRun && r.Gate == nil {
		return nil, errors.New("rollout: no health gate")
	}
	slug := env.Space(r.project())
	res := &ApplyResult{Environment: env.Name, Space: slug, DryRun: o.DryRun}
	if _, err := traderx.LookupServices(o.Services); err != nil {
		return nil, &InputError{Err: err}
	}
	plan, err := r.plan(ctx, sp, env, o.Services)
	if err != nil {
		return nil, err
	}
	if err := r.preflight(ctx, sp, plan); err != nil {
		return nil, err
	}
	if !o.DryRun {
		if err := r.CheckReady(ctx, sp, env); err != nil {
			return nil, err
		}
		if _, err := r.user(ctx); err != nil {
			return nil, err
		}
	}
	if !o.NoRefresh {
		r.markDrift(ctx, sp, env, plan, o)
	}
	tiers := groupTiers(plan)
	if o.Reverse {
		slices.Reverse(tiers)
	}
	// One watch of the namespace serves every gate of the run and the
	// keeper, which holds what changed healthy and stops the run on a break.
	obs := &observer{gate: r.Gate}
	var k *keeper
	run, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	if !o.DryRun && slices.ContainsFunc(tiers, func(t tierPlan) bool { return len(t.gated) > 0 }) {
		obs = r.observe(run, env)
		k = r.keep(run, env, obs, o, stopRun)
	}
	for _, t := range tiers {
		if k != nil {
			if err := k.before(run, t); err != nil {
				if berr := r.broken(run, env, o); berr != nil {
					err = berr
				}
				return res, err
			}
		}
		tr, err := r.applyTier(run, sp, env, obs, k, t, o)
		if berr := r.broken(run, env, o); berr != nil {
			err = berr
		}
		if !o.DryRun {
			done, note := tierEnd(tr)
			if err != nil {
				note = "failed: " + note
			}
			r.step(Step{Name: tierName(t), Done: done, Total: len(tr.Units), Note: note, End: true, Failed: err != nil})
		}
		res.Tiers = append(res.Tiers, tr)
		for _, u := range tr.Units {
			switch u.Outcome {
			case UnitApplied:
				res.Applied++
			case UnitSkipped:
				res.Skipped++
			}
		}
		if err != nil {
			return res, err
		}
	}
	if o.DryRun {
		return res, nil
	}
	if k != nil {
		if err := k.wait(run); err != nil {
			if berr := r.broken(run, env, o); berr != nil {
				err = berr
			}
			return res, err
		}
	}
	rep, err := r.verdict(ctx, env, obs, o)
	if rep != nil {
		res.Verdict, res.Reason = rep.Verdict, rep.Reason
	}
	if err != nil {
		return res, err
	}
	if res.Applied == 0 {
		r.log().Info(fmt.Sprintf("%s: nothing to apply: all %d units are live at their head revision and healthy; no release recorded", env.Name, res.Skipped))
		return res, nil
	}
	rel, err := r.RecordRelease(ctx, sp, env, o.ChangeDesc, res)
	res.Release = rel
	if err != nil {
		return res, err
	}
	return res, nil
}

func (r *Rollout) applyTier(ctx context.Context, sp *confighub.Space, env traderx.Environment, obs *observer, k *keeper, t tierPlan, o ApplyOptions) (TierResult, error) {
	tr := TierResult{Number: t.number, Services: t.services}
	log := r.log()
	var todo []int
	for i, p := range t.units {
		u := p.eu.Unit
		ur := UnitResult{Unit: p.name, Service: p.service, Tier: t.number, Revision: u.HeadRevisionNum, Repair: p.repair}
		if p.live() {
			ur.Outcome = UnitSkipped
		} else if o.DryRun {
			ur.Outcome = UnitPlanned
		} else {
			ur.Outcome = UnitUntouchd
			todo = append(todo, i)
		}
		tr.Units = append(tr.Units, ur)
	}
	for _, u := range tr.Units {
		switch u.Outcome {
		case UnitSkipped:
			log.Debug(fmt.Sprintf("tier %d: skip %s: live at head revision %d", t.number, u.Unit, u.Revision))
		case UnitPlanned:
			log.Info(fmt.Sprintf("tier %d: would apply %s revision %d%s", t.number, u.Unit, u.Revision, repairNote(u.Repair)))
		case UnitUntouchd:
			if u.Repair != "" {
				log.Warn(fmt.Sprintf("tier %d: applying %s revision %d again: %s", t.number, u.Unit, u.Revision, u.Repair))
			}
		}
	}
	if o.DryRun {
		return tr, nil
	}
	if len(todo) > 0 {
		var names []string
		for _, i := range todo {
			names = append(names, t.units[i].name)
		}
		log.Debug(fmt.Sprintf("tier %d: applying %s", t.number, strings.Join(names, ", ")))
	}
	name := tierName(t)
	var mu sync.Mutex
	done := len(t.units) - len(todo)
	r.step(Step{Name: name, Done: done, Total: len(t.units), Note: "applying"})
	// The worker completes an apply only once its objects are ready, so a
	// crash-looping Deployment never completes: a watchdog reads the tier's
	// new pods meanwhile, and through the gate's hold after, and stops the
	// waits on a failure waiting cannot cure.
	wctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if sf, ok := obs.gate.(StuckFinder); ok && len(t.services) > 0 && len(todo) > 0 {
		go r.watchStuck(wctx, sf, env, t, o, stop)
	}
	// The worker matters only while the tier's applies run.
	actx, appliesDone := context.WithCancel(wctx)
	defer appliesDone()
	if len(todo) > 0 {
		go r.watchWorkers(actx, sp, env, t, todo, o, stop)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(t.units))
	for _, i := range todo {
		wg.Go(func() {
			ur := &tr.Units[i]
			rev, attempts, err := r.applyUnit(wctx, sp, env, t.units[i], o)
			ur.Attempts = attempts
			if err != nil {
				ur.Outcome, ur.Cause = UnitFailed, cause(err)
				errs[i] = err
				return
			}
			ur.Outcome, ur.Revision = UnitApplied, rev
			mu.Lock()
			done++
			r.step(Step{Name: name, Done: done, Total: len(t.units), Note: "applying"})
			mu.Unlock()
		})
	}
	wg.Wait()
	appliesDone()
	if err := r.watchdogStop(ctx, wctx, env, t, &tr, o); err != nil {
		return tr, err
	}
	var applied, failed []string
	var first error
	firstIdx := -1
	for i, u := range tr.Units {
		switch u.Outcome {
		case UnitApplied:
			applied = append(applied, u.Unit)
		case UnitFailed:
			failed = append(failed, u.Unit)
			if first == nil {
				first, firstIdx = errs[i], i
			}
		}
	}
	if first != nil {
		u := tr.Units[firstIdx]
		var ip *inProgressError
		if errors.As(first, &ip) && len(t.services) > 0 {
			// Still Progressing: the cluster says why better than the worker.
			if rep, gerr := r.Gate.Check(ctx, env, t.services); gerr == nil {
				rep.Finalize()
				te := r.gateFailure(env, t, o, rep, fmt.Sprintf("not healthy after %s", o.Timeout))
				te.Cause = ip.Error() + ": " + rep.Reason
				te.Applied, te.Failed = applied, failed
				return tr, te
			}
		}
		return tr, &TierError{Env: env.Name, Tier: t.number, Services: t.services, Unit: u.Unit, Service: u.Service,
			Cause: u.Cause, Applied: applied, Failed: failed, Unreachable: IsUnreachable(first), Resume: o.Resume, Err: first}
	}
	switch {
	case len(t.services) == 0:
		log.Debug(fmt.Sprintf("tier %d: not gated: no service of its own (the verdict at the end judges it)", t.number))
		return tr, nil
	case len(t.gated) == 0:
		log.Debug(fmt.Sprintf("tier %d: not gated: nothing in it changed, nor anything it depends on", t.number))
		return tr, nil
	}
	rep, err := r.gate(wctx, env, obs, t, o)
	if rep != nil {
		tr.Verdict = rep.Verdict
	}
	if werr := r.watchdogStop(ctx, wctx, env, t, &tr, o); werr != nil {
		return tr, werr
	}
	if err == nil && t.changed {
		k.add(t, r.clock().Now())
	}
	if err != nil {
		var te *TierError
		if errors.As(err, &te) {
			te.Applied = applied
		}
		return tr, err
	}
	return tr, nil
}

// watchdogStop is the tier's failure when a watchdog stopped its waits: new
// pods stuck, or the worker gone; nil otherwise.
func (r *Rollout) watchdogStop(ctx, wctx context.Context, env traderx.Environment, t tierPlan, tr *TierResult, o ApplyOptions) error {
	if ctx.Err() != nil {
		return nil
	}
	var stuck *stuckError
	if errors.As(context.Cause(wctx), &stuck) {
		applied, _ := tr.cutOff("apply still in progress on the worker (it waits for readiness)")
		te := r.tierFailure(env, t, o, stuck.checks, "new pods failed")
		te.Applied = applied
		return te
	}
	var gone *WorkerUnavailableError
	if errors.As(context.Cause(wctx), &gone) {
		return r.workerLeft(env, t, tr, gone, o)
	}
	return nil
}

// cutOff gives every unit of the tier whose apply did not complete the cause
// of the stop, and returns the applied units and the cut-off ones.
func (tr *TierResult) cutOff(cause string) (applied, cut []string) {
	for i := range tr.Units {
		u := &tr.Units[i]
		switch u.Outcome {
		case UnitApplied:
			applied = append(applied, u.Unit)
		case UnitFailed:
			u.Cause = cause
			cut = append(cut, u.Unit)
		}
	}
	return applied, cut
}

func repairNote(why string) string {
	if why == "" {
		return ""
	}
	return " again: " + why
}

// nextRelease returns one more than the highest release-N tag of a space.
func nextRelease(tags []confighub.ExtendedTag) int {
	n := 0
	for _, t := range tags {
		if t.Tag == nil {
			continue
		}
		if v, ok := strings.CutPrefix(t.Tag.Slug, ReleaseTagPrefix); ok {
			if i, err := strconv.Atoi(v); err == nil && i > n {
				n = i
			}
		}
	}
	return n + 1
}
