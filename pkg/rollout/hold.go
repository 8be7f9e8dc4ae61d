package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// keeper holds what a run changed healthy while the run goes on: from the
// moment a tier's gate found the services it changed healthy, they must stay
// HEALTHY or DEGRADED, without a break, for ApplyOptions.Settle. It judges
// them at every change the observer reports (or every PollInterval), so a
// pod that crashes soon after it became ready is caught even while later
// tiers apply, without a sleep per tier. A break stops the run (its context's
// cause is a *holdBroken); the run waits for the holds before its verdict.
type keeper struct {
	r    *Rollout
	env  traderx.Environment
	obs  *observer
	o    ApplyOptions
	stop context.CancelCauseFunc

	mu      sync.Mutex
	pending []held
	// woken signals the loop (a tier added) and wait (a hold over).
	added, over chan struct{}
}

// held is a tier whose changed services are being held healthy since a time.
type held struct {
	t     tierPlan
	since time.Time
}

// holdBroken is a tier whose changed services stopped being healthy before
// their hold was over.
type holdBroken struct {
	t     tierPlan
	after time.Duration
	rep   *check.Report
}

func (e *holdBroken) Error() string {
	return fmt.Sprintf("tier %d became %s %s after it was healthy: %s", e.t.number, e.rep.Verdict, e.after.Round(time.Millisecond), e.rep.Reason)
}

// keep starts holding for the run whose context ctx is; stop cancels it.
func (r *Rollout) keep(ctx context.Context, env traderx.Environment, obs *observer, o ApplyOptions, stop context.CancelCauseFunc) *keeper {
	k := &keeper{r: r, env: env, obs: obs, o: o, stop: stop, added: make(chan struct{}, 1), over: make(chan struct{}, 1)}
	go k.run(ctx)
	return k
}

// add holds t's gated services healthy from since (when its gate found
// them so) for Settle.
func (k *keeper) add(t tierPlan, since time.Time) {
	if k.o.Settle <= 0 {
		return
	}
	k.mu.Lock()
	k.pending = append(k.pending, held{t: t, since: since})
	k.mu.Unlock()
	k.r.log().Debug(fmt.Sprintf("tier %d: %s healthy; holding it so for %s", t.number, strings.Join(t.gated, ", "), k.o.Settle))
	signal(k.added)
}

// before returns once no hold is pending on what t's applies stand on: the
// services its changed services depend on, or every service when it
// applies units of none (namespace, network policies, ingress). So a tier
// is not applied onto a dependency that may still crash; what does not
// depend on a held service (a rollback's next tier: what the held ones
// consume) goes on at once.
func (k *keeper) before(ctx context.Context, t tierPlan) error {
	all := false
	needs := map[string]bool{}
	for _, p := range t.units {
		if p.live() {
			continue
		}
		svc, err := traderx.LookupService(p.service)
		if err != nil {
			all = true
			continue
		}
		for _, d := range svc.Dependencies() {
			needs[d] = true
		}
	}
	announced := false
	for {
		var on []string
		k.mu.Lock()
		for _, h := range k.pending {
			for _, s := range h.t.gated {
				if all || needs[s] {
					on = append(on, s)
				}
			}
		}
		k.mu.Unlock()
		if len(on) == 0 {
			return nil
		}
		if !announced {
			k.r.log().Debug(fmt.Sprintf("tier %d: waiting for %s to stay healthy for %s first", t.number, strings.Join(on, ", "), k.o.Settle))
			announced = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.over:
		}
	}
}

// wait returns once every hold is over, or with the run's stop (see broken).
func (k *keeper) wait(ctx context.Context) error {
	const name = "what changed"
	announced := false
	for {
		k.mu.Lock()
		n := len(k.pending)
		k.mu.Unlock()
		if n == 0 {
			if announced {
				k.r.step(Step{Name: name, Note: fmt.Sprintf("stayed healthy for %s", k.o.Settle), End: true})
			}
			return nil
		}
		if !announced {
			k.r.step(Step{Name: name, Note: fmt.Sprintf("checking it stays healthy for %s", k.o.Settle)})
			announced = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.over:
		}
	}
}

func (k *keeper) run(ctx context.Context) {
	clock := k.r.clock()
	changed := k.obs.changes()
	for {
		k.mu.Lock()
		pending := slices.Clone(k.pending)
		k.mu.Unlock()
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-k.added:
				continue
			}
		}
		next := k.o.PollInterval
		for _, h := range pending {
			rep, err := k.obs.gate.Check(ctx, k.env, h.t.gated)
			if ctx.Err() != nil {
				return
			}
			now := clock.Now()
			if err != nil {
				// Unreadable for now: the gates and the verdict judge
				// reads; the hold goes on.
				continue
			}
			if !healthy(rep, k.o.Reverse, false) {
				k.r.log().Error(fmt.Sprintf("tier %d: %s became %s %s after it was healthy: %s", h.t.number,
					strings.Join(h.t.gated, ", "), rep.Verdict, now.Sub(h.since).Round(time.Millisecond), rep.Reason))
				k.stop(&holdBroken{t: h.t, after: now.Sub(h.since), rep: rep})
				return
			}
			if left := h.since.Add(k.o.Settle).Sub(now); left > 0 {
				next = min(next, left)
				continue
			}
			k.r.log().Debug(fmt.Sprintf("tier %d: %s stayed %s for %s", h.t.number, strings.Join(h.t.gated, ", "), rep.Verdict, k.o.Settle))
			k.mu.Lock()
			k.pending = slices.DeleteFunc(k.pending, func(p held) bool { return p.t.number == h.t.number })
			k.mu.Unlock()
			signal(k.over)
		}
		if err := k.r.await(ctx, changed, next); err != nil {
			return
		}
	}
}

// signal records an event without blocking: one pending signal stands for
// any number.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// broken is the tier failure of a run its keeper stopped, or nil.
func (r *Rollout) broken(ctx context.Context, env traderx.Environment, o ApplyOptions) error {
	var hb *holdBroken
	if !errors.As(context.Cause(ctx), &hb) {
		return nil
	}
	te := r.tierFailure(env, hb.t, o, failing(hb.rep), fmt.Sprintf("became %s %s after it was healthy", hb.rep.Verdict, hb.after.Round(time.Millisecond)))
	if te.Unit == "" {
		te.Cause = hb.Error()
	}
	te.Err = hb
	return te
}
