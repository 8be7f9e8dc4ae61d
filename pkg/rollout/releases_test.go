package rollout_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// world is a stand-in with environments installed and a gate that always
// says HEALTHY: these tests are about ConfigHub state, not the cluster.
type world struct {
	t   *testing.T
	ctx context.Context
	r   *rollout.Rollout
	srv *confighubtest.Server
	c   *confighub.Client
}

func newWorld(t *testing.T, envs ...string) *world {
	t.Helper()
	srv := confighubtest.NewServer()
	t.Cleanup(srv.Close)
	c, err := confighub.New(srv.Credentials(),
		confighub.WithRetryPolicy(confighub.RetryPolicy{Attempts: 2, Base: time.Millisecond, Factor: 2, Cap: 5 * time.Millisecond, PerTryTimeout: 5 * time.Second}),
		confighub.WithWaitPolicy(confighub.WaitPolicy{Initial: 5 * time.Millisecond, Cap: 20 * time.Millisecond, Timeout: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	gate := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		return report(env, check.StatusPass, s), nil
	})
	var spaces []string
	for _, e := range envs {
		spaces = append(spaces, "traderx-"+e)
	}
	startWorkers(t, srv, spaces...)
	w := &world{t: t, ctx: context.Background(), srv: srv, c: c,
		r: &rollout.Rollout{Hub: c, Gate: gate, Clock: &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}}
	var list []traderx.Environment
	for _, e := range envs {
		list = append(list, w.env(e))
	}
	if _, err := w.r.Install(w.ctx, rollout.InstallOptions{Envs: list}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) env(name string) traderx.Environment {
	e, err := traderx.LookupEnvironment(name)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) apply(env, desc string) *rollout.ApplyResult {
	w.t.Helper()
	res, err := w.r.Apply(w.ctx, w.env(env), rollout.ApplyOptions{Settle: -1, ChangeDesc: desc})
	if err != nil {
		w.t.Fatalf("apply %s: %v", env, err)
	}
	return res
}

// setImage changes a Deployment unit's image through ConfigHub.
func (w *world) setImage(env, unit, image string) {
	w.t.Helper()
	_, err := w.r.EditUnits(w.ctx, spaceOf(w.t, w.r, w.env(env)), w.env(env), "set image "+image, false, rollout.Edit{Unit: unit, Mutate: func(objs []*unstructured.Unstructured) error {
		containers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
		containers[0].(map[string]any)["image"] = image
		return unstructured.SetNestedSlice(objs[0].Object, containers, "spec", "template", "spec", "containers")
	}})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) unit(env, slug string) *confighub.Unit {
	w.t.Helper()
	sp, err := w.c.GetSpaceBySlug(w.ctx, w.env(env).Space(traderx.DefaultProject))
	if err != nil {
		w.t.Fatal(err)
	}
	eu, err := w.c.GetUnitBySlug(w.ctx, sp.SpaceID, slug)
	if err != nil {
		w.t.Fatal(err)
	}
	full, err := w.c.GetUnit(w.ctx, sp.SpaceID, eu.Unit.UnitID)
	if err != nil {
		w.t.Fatal(err)
	}
	return full.Unit
}

func (w *world) image(env, slug string) string {
	objs, err := manifests.Decode(w.unit(env, slug).Data)
	if err != nil {
		w.t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	return containers[0].(map[string]any)["image"].(string)
}

func (w *world) heads(env string) map[string]int64 {
	sp, _ := w.c.GetSpaceBySlug(w.ctx, w.env(env).Space(traderx.DefaultProject))
	units, err := w.c.ListUnits(w.ctx, sp.SpaceID, "")
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, u := range units {
		out[u.Unit.Slug] = u.Unit.HeadRevisionNum
	}
	return out
}

const (
	goodImage = "ghcr.io/finos/traderx/trade-service:1.0"
	badImage  = "ghcr.io/finos/traderx/trade-service:1.1-broken"
	tsUnit    = "trade-service-blue-deployment"
)

func TestRollbackRestoresTheWholeRelease(t *testing.T) {
	w := newWorld(t, "dev", "staging", "prod")
	w.setImage("prod", tsUnit, goodImage)
	w.apply("prod", "good") // release 1
	w.setImage("prod", tsUnit, badImage)
	w.setImage("prod", "trade-feed-deployment", "ghcr.io/finos/traderx/trade-feed:9")
	w.apply("prod", "bad") // release 2
	before := w.heads("prod")

	// Dry run: says what would happen, changes nothing.
	dry, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{DryRun: true})
	if err != nil || dry.Target.Number != 1 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	planned := 0
	for _, u := range dry.Units {
		if u.Outcome == rollout.RollbackPlanned {
			planned++
		}
	}
	if planned != 2 || !mapsEqual(before, w.heads("prod")) {
		t.Errorf("dry run planned %d restores (want 2) or changed revisions", planned)
	}

	res, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Apply: rollout.ApplyOptions{Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if w.image("prod", tsUnit) != goodImage || res.Verdict != check.VerdictHealthy {
		t.Fatalf("after rollback: image %s, verdict %s", w.image("prod", tsUnit), res.Verdict)
	}
	u := w.unit("prod", tsUnit)
	if u.HeadRevisionNum <= before[tsUnit] || u.LiveRevisionNum != u.HeadRevisionNum {
		t.Errorf("head did not move forward or is not live: head %d (was %d), live %d", u.HeadRevisionNum, before[tsUnit], u.LiveRevisionNum)
	}
	if res.Apply == nil || res.Apply.Release == nil || res.Apply.Release.Description != "rollback to release 1" {
		t.Errorf("release recorded: %+v", res.Apply)
	}
	// A plain apply afterwards has nothing to do: the bad revision is not head.
	if again := w.apply("prod", ""); again.Applied != 0 {
		t.Errorf("apply after rollback applied %d units", again.Applied)
	}
	// Re-running the rollback restores nothing new.
	re, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Release: 1, Apply: rollout.ApplyOptions{Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ru := range re.Units {
		if ru.Outcome == rollout.RollbackRestored {
			t.Errorf("re-run restored %s again", ru.Unit)
		}
	}
}

func TestRollbackToReleaseNAndPartial(t *testing.T) {
	w := newWorld(t, "dev", "staging", "prod")
	for i, img := range []string{"1.0", "2.0", "3.0"} {
		w.setImage("prod", tsUnit, "ghcr.io/finos/traderx/trade-service:"+img)
		w.setImage("prod", "trade-feed-deployment", "ghcr.io/finos/traderx/trade-feed:"+img)
		if res := w.apply("prod", "v"+img); res.Release == nil || res.Release.Number != i+1 {
			t.Fatalf("release %d: %+v", i+1, res.Release)
		}
	}
	// Partial: only trade-service goes back to release 1.
	res, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Release: 1, Services: []string{"trade-service"}, Apply: rollout.ApplyOptions{Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.image("prod", tsUnit); got != "ghcr.io/finos/traderx/trade-service:1.0" {
		t.Errorf("trade-service image %s", got)
	}
	if got := w.image("prod", "trade-feed-deployment"); got != "ghcr.io/finos/traderx/trade-feed:3.0" {
		t.Errorf("partial rollback touched trade-feed: %s", got)
	}
	for _, u := range res.Units {
		if !strings.HasPrefix(u.Unit, "trade-service-") {
			t.Errorf("partial rollback included %s", u.Unit)
		}
	}
	// Whole environment to release 2.
	if _, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Release: 2, Apply: rollout.ApplyOptions{Settle: -1}}); err != nil {
		t.Fatal(err)
	}
	if w.image("prod", tsUnit) != "ghcr.io/finos/traderx/trade-service:2.0" || w.image("prod", "trade-feed-deployment") != "ghcr.io/finos/traderx/trade-feed:2.0" {
		t.Errorf("release 2 not restored: %s, %s", w.image("prod", tsUnit), w.image("prod", "trade-feed-deployment"))
	}
}

func TestRollbackToUnknownReleaseChangesNothing(t *testing.T) {
	w := newWorld(t, "dev", "staging", "prod")
	w.apply("prod", "first")
	before := w.heads("prod")
	_, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Release: 99})
	var ie *rollout.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "prod has no release 99 (releases: 1)") {
		t.Fatalf("rollback 99: %v", err)
	}
	_, err = w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no previous release") {
		t.Fatalf("rollback with one release: %v", err)
	}
	if !mapsEqual(before, w.heads("prod")) {
		t.Error("a refused rollback changed revisions")
	}
}

// A ConfigHub failure half way through the restores stops the rollback,
// reports exactly which units were restored, and a re-run completes it.
func TestInterruptedRollbackIsReportedAndResumable(t *testing.T) {
	w := newWorld(t, "dev", "staging", "prod")
	w.apply("prod", "good")
	w.setImage("prod", tsUnit, badImage)
	w.setImage("prod", "trade-feed-deployment", "ghcr.io/finos/traderx/trade-feed:bad")
	w.apply("prod", "bad")
	// trade-feed-deployment sorts before trade-service-blue-deployment: let
	// its restore through, fail the next PATCH for good.
	w.srv.InjectFault(confighubtest.Fault{Method: "PATCH", PathPattern: "/unit/", Delay: time.Millisecond, Times: 1})
	w.srv.InjectFault(confighubtest.Fault{Method: "PATCH", PathPattern: "/unit/", Status: 500, Times: 10})
	res, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Apply: rollout.ApplyOptions{Settle: -1}})
	var re *rollout.RollbackError
	if !errors.As(err, &re) {
		t.Fatalf("want RollbackError, got %v", err)
	}
	outcomes := map[string]string{}
	for _, u := range res.Units {
		outcomes[u.Unit] = u.Outcome
	}
	if outcomes["trade-feed-deployment"] != rollout.RollbackRestored || outcomes[tsUnit] != rollout.RollbackFailed {
		t.Fatalf("outcomes: %v", outcomes)
	}
	w.srv.ClearFaults()
	res, err = w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{Release: 1, Apply: rollout.ApplyOptions{Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	outcomes = map[string]string{}
	for _, u := range res.Units {
		outcomes[u.Unit] = u.Outcome
	}
	if outcomes["trade-feed-deployment"] != rollout.RollbackUnchanged || outcomes[tsUnit] != rollout.RollbackRestored {
		t.Errorf("re-run outcomes: %v", outcomes)
	}
	if w.image("prod", tsUnit) == badImage {
		t.Error("re-run did not restore trade-service")
	}
}

func TestHistory(t *testing.T) {
	w := newWorld(t, "dev")
	w.apply("dev", "first")
	w.setImage("dev", tsUnit, goodImage)
	w.apply("dev", "new trade-service")
	rels, err := w.r.History(w.ctx, w.env("dev"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 2 || rels[0].Number != 2 || rels[0].Description != "new trade-service" || rels[0].User != "traderx-tester" {
		t.Fatalf("history: %+v", rels)
	}
	if len(rels[0].Changed) != 1 || rels[0].Changed[0] != tsUnit {
		t.Errorf("release 2 changed %v, want only %s", rels[0].Changed, tsUnit)
	}
	if len(rels[1].Changed) != len(rels[1].Units) || len(rels[1].Units) != 24 {
		t.Errorf("release 1: %d units, %d changed", len(rels[1].Units), len(rels[1].Changed))
	}
	if one, _ := w.r.History(w.ctx, w.env("dev"), 1); len(one) != 1 {
		t.Errorf("--max 1 gave %d", len(one))
	}
	revs, err := w.r.ServiceHistory(w.ctx, w.env("dev"), "trade-service", 0)
	if err != nil {
		t.Fatal(err)
	}
	var heads int
	for _, rv := range revs {
		if !strings.HasPrefix(rv.Unit, "trade-service-") {
			t.Errorf("service history has %s", rv.Unit)
		}
		if rv.Head {
			heads++
		}
	}
	if heads != 3 { // blue, green and service units
		t.Errorf("%d head revisions, want 3", heads)
	}
}

func TestPromote(t *testing.T) {
	w := newWorld(t, "dev", "staging", "prod")
	w.apply("dev", "dev 1")
	w.apply("staging", "staging 1")
	w.setImage("dev", tsUnit, goodImage)
	w.apply("dev", "new image") // dev release 2
	before := w.heads("staging")

	dry, err := w.r.Promote(w.ctx, spaceOf(w.t, w.r, w.env("dev")), spaceOf(w.t, w.r, w.env("staging")), w.env("dev"), w.env("staging"), rollout.PromoteOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Units) != 1 || dry.Units[0].Unit != tsUnit || !strings.Contains(dry.Units[0].Diff, "+        image: "+goodImage) {
		t.Fatalf("dry run: %+v", dry.Units)
	}
	if !mapsEqual(before, w.heads("staging")) {
		t.Fatal("a dry run changed revisions")
	}

	res, err := w.r.Promote(w.ctx, spaceOf(w.t, w.r, w.env("dev")), spaceOf(w.t, w.r, w.env("staging")), w.env("dev"), w.env("staging"), rollout.PromoteOptions{Apply: rollout.ApplyOptions{Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if w.image("staging", tsUnit) != goodImage {
		t.Errorf("staging image %s", w.image("staging", tsUnit))
	}
	// Exactly dev's change: staging keeps its namespace and replicas.
	objs, _ := manifests.Decode(w.unit("staging", tsUnit).Data)
	replicas, _, _ := unstructured.NestedFloat64(objs[0].Object, "spec", "replicas")
	if objs[0].GetNamespace() != "traderx-staging" || replicas != 2 {
		t.Errorf("staging overrides lost: namespace %s, replicas %v", objs[0].GetNamespace(), replicas)
	}
	after := w.heads("staging")
	for unit, h := range after {
		if unit != tsUnit && h != before[unit] {
			t.Errorf("promote changed %s too", unit)
		}
	}
	if res.Apply == nil || res.Apply.Release == nil || res.Apply.Release.Description != "promote from dev (release 2)" {
		t.Errorf("release: %+v", res.Apply)
	}
	// prod is downstream of staging, not of dev: refused, naming the chain.
	prodBefore := w.heads("prod")
	_, err = w.r.Promote(w.ctx, spaceOf(w.t, w.r, w.env("dev")), spaceOf(w.t, w.r, w.env("prod")), w.env("dev"), w.env("prod"), rollout.PromoteOptions{})
	var ie *rollout.InputError
	if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), "cannot promote dev into prod: changes move base → dev → staging → prod") {

		t.Errorf("promote dev prod: %v", err)
	}
	if !mapsEqual(prodBefore, w.heads("prod")) {
		t.Error("a refused promotion changed prod")
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// After a failed apply (no release recorded), "rollback" with no number goes
// back to the latest release, which is the last good state.
func TestRollbackAfterFailedChangeTargetsLatestRelease(t *testing.T) {
	w := newWorld(t, "dev", "staging", "prod")
	w.setImage("prod", tsUnit, goodImage)
	w.apply("prod", "good") // release 1
	w.setImage("prod", tsUnit, badImage)
	res, err := w.r.Rollback(w.ctx, w.env("prod"), rollout.RollbackOptions{DryRun: true})
	if err != nil || res.Target.Number != 1 {
		t.Fatalf("target %+v, %v", res, err)
	}
}

// In a rollback the consumers step back before what they consume, so a tier's
// gate must not fail on a dependency the later tiers will restore; the final
// verdict judges the whole environment.
func TestReverseApplyIgnoresDependenciesInTierGates(t *testing.T) {
	w := newWorld(t, "dev")
	w.apply("dev", "first")
	dependencyDown := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		r := report(env, check.StatusPass, s)
		for _, svc := range s {
			r.Add(check.Check{Suite: "dependencies", Name: "depends-on-x", Target: svc, Status: check.StatusFail, Message: "dependency x is down"})
		}
		r.Finalize()
		return r, nil
	})
	w.r.Gate = dependencyDown
	w.setImage("dev", tsUnit, goodImage)
	if _, err := w.r.Apply(w.ctx, w.env("dev"), rollout.ApplyOptions{Settle: -1, Reverse: true, Timeout: time.Second, Retries: -1}); err != nil {
		t.Errorf("reverse apply failed on a dependency check: %v", err)
	}
	w.setImage("dev", tsUnit, badImage)
	var te *rollout.TierError
	if _, err := w.r.Apply(w.ctx, w.env("dev"), rollout.ApplyOptions{Settle: -1, Timeout: time.Second, Retries: -1}); !errors.As(err, &te) {
		t.Errorf("forward apply ignored a failing dependency: %v", err)
	}
}
