package rollout_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// gateCall is one judgement a gate was asked for, at the run's clock time.
type gateCall struct {
	at       time.Time
	services []string
}

// recordingGate answers HEALTHY (or with judge) and records every call.
type recordingGate struct {
	mu    sync.Mutex
	clock *fakeClock
	calls []gateCall
	judge func(env traderx.Environment, services []string) *check.Report
}

func (g *recordingGate) Check(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, gateCall{at: g.clock.Now(), services: s})
	if g.judge != nil {
		return g.judge(env, s), nil
	}
	return report(env, check.StatusPass, s), nil
}

// reset forgets the calls so far.
func (g *recordingGate) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = nil
}

// Only what a run changes is gated with a hold, and what depends on it
// judged once; tiers with neither are not gated; the environment as a whole
// is judged at the end.
func TestGatesJudgeWhatChangedAndItsDependents(t *testing.T) {
	tests := []struct {
		unit    string // the unit changed
		service string
		reverse bool
	}{
		{unit: "people-service-deployment", service: "people-service"},
		{unit: "trade-feed-deployment", service: "trade-feed"},
		{unit: "account-service-deployment", service: "account-service", reverse: true},
		{unit: "web-front-end-angular-deployment", service: "web-front-end-angular"},
	}
	for _, tc := range tests {
		t.Run(tc.service, func(t *testing.T) {
			w := newWorld(t, "dev")
			clock := w.r.Clock.(*fakeClock)
			g := &recordingGate{clock: clock}
			w.r.Gate = g
			w.apply("dev", "first")
			w.setImage("dev", tc.unit, "ghcr.io/finos/traderx/"+tc.service+":9.9")
			g.reset()
			const settle = 5 * time.Second
			if _, err := w.r.Apply(w.ctx, w.env("dev"), rollout.ApplyOptions{Settle: settle, PollInterval: time.Second, Reverse: tc.reverse}); err != nil {
				t.Fatal(err)
			}
			dependents := traderx.Dependents(tc.service)
			var changedCalls []gateCall
			judged := map[string]int{}
			final := 0
			for _, c := range g.calls {
				if c.services == nil {
					final++
					continue
				}
				for _, s := range c.services {
					judged[s]++
				}
				if slices.Contains(c.services, tc.service) {
					changedCalls = append(changedCalls, c)
				}
				for _, s := range c.services {
					if s != tc.service && !slices.Contains(dependents, s) {
						t.Errorf("%s was gated although neither it nor anything it depends on changed (calls %v)", s, g.calls)
					}
				}
			}
			if len(changedCalls) < 2 || changedCalls[len(changedCalls)-1].at.Sub(changedCalls[0].at) < settle {
				t.Errorf("the changed %s was not held healthy for %s: judged at %v", tc.service, settle, changedCalls)
			}
			for _, d := range dependents {
				if judged[d] != 1 {
					t.Errorf("dependent %s of the changed %s judged %d times, want once (gated, not held)", d, tc.service, judged[d])
				}
			}
			if final != 1 || g.calls[len(g.calls)-1].services != nil {
				t.Errorf("want one verdict on the whole environment, last; calls %v", g.calls)
			}
		})
	}
}

// A no-op apply judges the whole environment once, and fails when it is
// not healthy: at once when waiting does not cure it, else after the timeout.
func TestNoopApplyJudgesTheEnvironment(t *testing.T) {
	tests := []struct {
		name      string
		check     check.Check
		wantErr   bool
		wantWaits bool
	}{
		{name: "healthy", check: check.Check{Name: "rollout-complete", Status: check.StatusPass}},
		{name: "crash loop", check: check.Check{Name: "pods-crashloop", Status: check.StatusFail}, wantErr: true},
		{name: "no endpoints", check: check.Check{Name: "endpoints-ready", Status: check.StatusFail}, wantErr: true, wantWaits: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "dev")
			clock := w.r.Clock.(*fakeClock)
			g := &recordingGate{clock: clock}
			w.r.Gate = g
			w.apply("dev", "first")
			g.reset()
			g.judge = func(env traderx.Environment, _ []string) *check.Report {
				r := check.NewReport(check.KindHealth, env.Name, env.Namespace())
				c := tc.check
				c.Target = "people-service"
				r.Add(c)
				r.Finalize()
				return r
			}
			start := clock.Now()
			res, err := w.r.Apply(w.ctx, w.env("dev"), rollout.ApplyOptions{Timeout: 10 * time.Second, PollInterval: time.Second})
			var ve *rollout.VerdictError
			if tc.wantErr != errors.As(err, &ve) {
				t.Fatalf("no-op apply: %v (want a VerdictError: %v)", err, tc.wantErr)
			}
			if res == nil || res.Applied != 0 {
				t.Fatalf("not a no-op: %+v", res)
			}
			if len(g.calls) == 0 || g.calls[0].services != nil {
				t.Fatalf("the environment was not judged: calls %v", g.calls)
			}
			for _, c := range g.calls {
				if c.services != nil {
					t.Errorf("a no-op apply gated %v", c.services)
				}
			}
			if waited := clock.Now().Sub(start) >= 10*time.Second; waited != tc.wantWaits {
				t.Errorf("waited %s for the verdict (want the timeout: %v)", clock.Now().Sub(start), tc.wantWaits)
			}
			if !tc.wantWaits && len(g.calls) != 1 {
				t.Errorf("judged %d times, want once", len(g.calls))
			}
		})
	}
}

// The hold is continuous: a changed service that breaks after its gate
// found it healthy (a pod crashing soon after it became ready) stops the
// run, naming its tier and unit; a later tier depending on it is not applied
// meanwhile; no release is recorded.
func TestABreakDuringTheHoldStopsTheRun(t *testing.T) {
	w := newWorld(t, "dev")
	clock := w.r.Clock.(*fakeClock)
	g := &recordingGate{clock: clock}
	w.r.Gate = g
	w.apply("dev", "first")
	w.setImage("dev", "people-service-deployment", "ghcr.io/finos/traderx/people-service:9.9")
	w.setImage("dev", "account-service-deployment", "ghcr.io/finos/traderx/account-service:9.9")
	g.reset()
	n := 0
	g.judge = func(env traderx.Environment, s []string) *check.Report {
		if slices.Contains(s, "people-service") {
			n++
			switch n {
			case 2:
				// The hold's first look takes a while (in real time: the
				// fake clock makes the rest instant); a tier that does not
				// wait for the hold is applied meanwhile.
				time.Sleep(300 * time.Millisecond)
			case 3: // healthy at the gate and once more, then a crash
				return report(env, check.StatusFail, s)
			}
		}
		return report(env, check.StatusPass, s)
	}
	res, err := w.r.Apply(w.ctx, w.env("dev"), rollout.ApplyOptions{Settle: 5 * time.Second, PollInterval: time.Second, Timeout: time.Minute})
	var te *rollout.TierError
	if !errors.As(err, &te) || te.Tier != 1 || te.Unit != "people-service-deployment" || !strings.Contains(te.Cause, "after it was healthy") {
		t.Fatalf("want tier 1's failure naming people-service-deployment, got %v", err)
	}
	if res == nil || res.Release != nil {
		t.Fatalf("a broken run recorded a release: %+v", res)
	}
	for _, tr := range res.Tiers {
		for _, u := range tr.Units {
			if u.Unit == "account-service-deployment" && u.Outcome == rollout.UnitApplied {
				t.Errorf("account-service, which depends on people-service, was applied during people-service's hold")
			}
		}
	}
}
