package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// fakeClock advances instantly and records the sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func setup(t *testing.T, gate rollout.Gate) (*rollout.Rollout, *confighubtest.Worker, *fakeClock) {
	t.Helper()
	srv := confighubtest.NewServer()
	t.Cleanup(srv.Close)
	workers := startWorkers(t, srv, "traderx-dev")
	c, err := confighub.New(srv.Credentials(), confighub.WithWaitPolicy(confighub.WaitPolicy{Initial: 10 * time.Millisecond, Cap: 50 * time.Millisecond, Timeout: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := &rollout.Rollout{Hub: c, Gate: gate, Clock: clock}
	dev, _ := traderx.LookupEnvironment("dev")
	if _, err := r.Install(context.Background(), rollout.InstallOptions{Envs: []traderx.Environment{dev}}); err != nil {
		t.Fatal(err)
	}
	return r, workers["traderx-dev"], clock
}

// startWorkers connects a worker in each space, as an operator does before
// installing.
func startWorkers(t *testing.T, srv *confighubtest.Server, spaces ...string) map[string]*confighubtest.Worker {
	t.Helper()
	ws, err := srv.StartWorkers(context.Background(), confighubtest.NoopBackend{}, nil, spaces...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, w := range ws {
			w.Stop()
		}
	})
	return ws
}

func report(env traderx.Environment, st check.Status, services []string) *check.Report {
	r := check.NewReport(check.KindHealth, env.Name, env.Namespace())
	for _, s := range services {
		r.Add(check.Check{Suite: "deployment", Name: "rollout-complete", Target: s, Status: st, Message: string(st)})
	}
	r.Finalize()
	return r
}

// Tiers go in dependency order and the gate sees each tier's services.
func TestApplyOrderAndRelease(t *testing.T) {
	var mu sync.Mutex
	var seen [][]string
	gate := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		mu.Lock()
		seen = append(seen, s)
		mu.Unlock()
		return report(env, check.StatusPass, s), nil
	})
	r, _, _ := setup(t, gate)
	dev, _ := traderx.LookupEnvironment("dev")
	res, err := r.Apply(context.Background(), dev, rollout.ApplyOptions{Settle: -1})
	if err != nil {
		t.Fatal(err)
	}
	var tiers []int
	for _, tr := range res.Tiers {
		tiers = append(tiers, tr.Number)
	}
	if got := fmt.Sprint(tiers); got != "[0 1 2 3 4 5]" {
		t.Errorf("tiers = %v", tiers)
	}
	// First the readiness check of the whole environment, before any change;
	// last the verdict on it.
	want := [][]string{{}, {"database", "reference-data", "trade-feed", "people-service"}, {"account-service", "position-service", "trade-processor"},
		{"trade-service"}, {"web-front-end-angular"}, {}}
	if len(seen) != len(want) {
		t.Fatalf("gate calls = %v", seen)
	}
	for i := range want {
		if strings.Join(seen[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("gate %d saw %v, want %v", i, seen[i], want[i])
		}
	}
	if res.Applied != 24 || res.Release == nil || res.Release.Number != 1 || res.Release.User != "traderx-tester" {
		t.Errorf("result: applied %d, release %+v", res.Applied, res.Release)
	}
	// Applying again is a no-op without a release; a changed unit makes release 2.
	res, err = r.Apply(context.Background(), dev, rollout.ApplyOptions{Settle: -1})
	if err != nil || res.Applied != 0 || res.Skipped != 24 || res.Release != nil {
		t.Fatalf("second apply: %+v, %v", res, err)
	}
}

// Apply failures back off 5s, 10s, 20s by default, then the tier fails.
func TestApplyRetriesBackOffAndStop(t *testing.T) {
	gate := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		return report(env, check.StatusPass, s), nil
	})
	r, worker, clock := setup(t, gate)
	worker.FailApplies("database-service", "quota exceeded", -1)
	dev, _ := traderx.LookupEnvironment("dev")
	_, err := r.Apply(context.Background(), dev, rollout.ApplyOptions{Resume: "cub traderx apply dev", Settle: -1})
	var te *rollout.TierError
	if !errors.As(err, &te) {
		t.Fatalf("want TierError, got %v", err)
	}
	if te.Tier != 1 || te.Unit != "database-service" || !strings.Contains(te.Cause, "quota exceeded") || te.Unreachable {
		t.Errorf("tier error: %+v", te)
	}
	var backoff []time.Duration
	for _, d := range clock.sleeps {
		if d >= time.Second {
			backoff = append(backoff, d)
		}
	}
	if len(backoff) != 3 || backoff[0] != 5*time.Second || backoff[1] != 10*time.Second || backoff[2] != 20*time.Second {
		t.Errorf("backoff = %v, want [5s 10s 20s]", backoff)
	}
}

// A gate that stays UNHEALTHY fails after the timeout, polling in between.
func TestGateTimeout(t *testing.T) {
	gate := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		return report(env, check.StatusFail, s), nil
	})
	r, _, clock := setup(t, gate)
	dev, _ := traderx.LookupEnvironment("dev")
	_, err := r.Apply(context.Background(), dev, rollout.ApplyOptions{Timeout: 30 * time.Second, PollInterval: 2 * time.Second})
	var te *rollout.TierError
	if !errors.As(err, &te) || te.Tier != 1 || te.Unit != "database-deployment" || len(te.Checks) != 4 {
		t.Fatalf("want tier 1 gate failure naming database-deployment, got %v", err)
	}
	polls := 0
	for _, d := range clock.sleeps {
		if d == 2*time.Second {
			polls++
		}
	}
	if polls != 15 {
		t.Errorf("polls = %d, want 15 in 30s", polls)
	}
}

// A space created before install (for its worker, as the setup in
// docs/confighub.md does) gets install's labels, so cub shows its
// ENVIRONMENT; a second install changes nothing.
func TestInstallLabelsAnExistingSpace(t *testing.T) {
	r, _, _ := setup(t, rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		return report(env, check.StatusPass, s), nil
	}))
	sp, err := r.Hub.GetSpaceBySlug(context.Background(), "traderx-dev")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{rollout.LabelEnvironment: "dev", rollout.LabelProject: "traderx", rollout.LabelRole: "environment"}
	for k, v := range want {
		if sp.Labels[k] != v {
			t.Errorf("space label %s = %q, want %q (labels %v)", k, sp.Labels[k], v, sp.Labels)
		}
	}
	dev, _ := traderx.LookupEnvironment("dev")
	res, err := r.Install(context.Background(), rollout.InstallOptions{Envs: []traderx.Environment{dev}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 0 {
		t.Errorf("second install changed %v", res.Changes)
	}
}

// spaceOf reads env's space as a command does once per run.
func spaceOf(t *testing.T, r *rollout.Rollout, env traderx.Environment) *confighub.Space {
	t.Helper()
	sp, err := r.Space(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func service(t *testing.T, name string) traderx.Service {
	t.Helper()
	svc, err := traderx.LookupService(name)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
