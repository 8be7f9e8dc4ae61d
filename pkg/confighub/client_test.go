package confighub_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
)

const deployV1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: trade-service
  namespace: traderx
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: trade-service
        image: ghcr.io/finos/traderx/trade-service:v1
`

func fastRetry() confighub.RetryPolicy {
	return confighub.RetryPolicy{Attempts: 4, Base: 10 * time.Millisecond, Factor: 2, Cap: 100 * time.Millisecond,
		MaxRetryAfter: 2 * time.Second, PerTryTimeout: 2 * time.Second}
}

type env struct {
	t     *testing.T
	srv   *confighubtest.Server
	c     *confighub.Client
	ctx   context.Context
	w     *confighubtest.Worker // started by target
	wopts []confighubtest.WorkerOption
}

func newEnv(t *testing.T, opts ...confighubtest.Option) *env {
	t.Helper()
	srv := confighubtest.NewServer(opts...)
	t.Cleanup(srv.Close)
	c, err := confighub.New(srv.Credentials(), confighub.WithRetryPolicy(fastRetry()),
		confighub.WithUserAgent("cub-traderx/test"),
		confighub.WithWaitPolicy(confighub.WaitPolicy{Initial: 10 * time.Millisecond, Cap: 50 * time.Millisecond, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, srv: srv, c: c, ctx: ctx}
}

func (e *env) space(slug string) *confighub.Space {
	e.t.Helper()
	sp, err := e.c.CreateSpace(e.ctx, confighub.Space{Slug: slug, Labels: map[string]string{"project": "traderx"}})
	if err != nil {
		e.t.Fatalf("CreateSpace(%s): %v", slug, err)
	}
	return sp
}

func (e *env) unit(sp *confighub.Space, slug, data string) *confighub.Unit {
	e.t.Helper()
	u, err := e.c.CreateUnit(e.ctx, sp.SpaceID, confighub.Unit{Slug: slug, Data: []byte(data),
		Labels: map[string]string{"order": "3"}, LastChangeDescription: "create " + slug}, uuid.Nil, uuid.Nil)
	if err != nil {
		e.t.Fatalf("CreateUnit(%s): %v", slug, err)
	}
	return u
}

// target starts a worker in the space, as `cub worker create` plus `cub
// worker run` would, and returns the target it advertises.
func (e *env) target(sp *confighub.Space) *confighub.Target {
	e.t.Helper()
	opts := append([]confighubtest.WorkerOption{confighubtest.WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond)}, e.wopts...)
	w, err := e.srv.StartWorker(e.ctx, sp.Slug, sp.Slug+"-worker", []string{"kwok"}, confighubtest.NoopBackend{}, opts...)
	if err != nil {
		e.t.Fatalf("StartWorker: %v", err)
	}
	e.t.Cleanup(w.Stop)
	e.w = w
	list, err := e.c.ListTargets(e.ctx, sp.SpaceID, confighub.Where().Eq("BridgeWorkerID", w.ID).String())
	if err != nil || len(list) != 1 {
		e.t.Fatalf("the worker's targets: %+v, %v", list, err)
	}
	return list[0].Target
}

func (e *env) revisions(sp *confighub.Space, u *confighub.Unit) []confighub.ExtendedRevision {
	e.t.Helper()
	revs, err := e.c.ListRevisions(e.ctx, sp.SpaceID, u.UnitID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return revs
}

func TestMeAndInfo(t *testing.T) {
	e := newEnv(t, confighubtest.WithUser(confighub.OrganizationMember{Username: "alice", DisplayName: "Alice"}))
	me, err := e.c.Me(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.Username != "alice" || me.UserID == uuid.Nil || me.OrganizationID == uuid.Nil {
		t.Errorf("Me = %+v", me)
	}
	info, err := e.c.Info(e.ctx)
	if err != nil || info.Version == "" {
		t.Errorf("Info = %+v, %v", info, err)
	}
}

func TestUnauthorized(t *testing.T) {
	srv := confighubtest.NewServer()
	defer srv.Close()
	creds := srv.Credentials()
	creds.Token = "wrong-token-value-1234"
	c, _ := confighub.New(creds, confighub.WithRetryPolicy(fastRetry()))
	_, err := c.Me(context.Background())
	if !confighub.IsUnauthorized(err) {
		t.Fatalf("want 401, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "cub auth login") || !strings.Contains(msg, "HTTP 401 for req chtest-") {
		t.Errorf("message lacks advice or request id: %s", msg)
	}
	if strings.Contains(msg, creds.Token) || strings.Contains(msg, srv.Token) {
		t.Errorf("message leaks a token: %s", msg)
	}
	if n := srv.CountRequests("GET", "/api/me$"); n != 1 {
		t.Errorf("a 401 must not be retried; saw %d requests", n)
	}
}

func TestSpacesAndUnits(t *testing.T) {
	e := newEnv(t)
	base := e.space("traderx-base")
	dev := e.space("traderx-dev")

	got, err := e.c.GetSpaceBySlug(e.ctx, "traderx-dev")
	if err != nil || got.SpaceID != dev.SpaceID {
		t.Fatalf("GetSpaceBySlug = %v, %v", got, err)
	}
	if _, err := e.c.GetSpaceBySlug(e.ctx, "nope"); !confighub.IsNotFound(err) {
		t.Errorf("unknown space slug: want NotFound, got %v", err)
	}
	if _, err := e.c.CreateSpace(e.ctx, confighub.Space{Slug: "traderx-dev"}); !confighub.IsConflict(err) {
		t.Errorf("duplicate space: want 409, got %v", err)
	}
	es, err := e.c.GetSpace(e.ctx, base.SpaceID)
	if err != nil || es.Space.Slug != "traderx-base" {
		t.Fatalf("GetSpace = %+v, %v", es, err)
	}

	u := e.unit(base, "trade-service-deployment", deployV1)
	if u.HeadRevisionNum != 1 || u.SpaceID != base.SpaceID || !bytes.Equal(u.Data, []byte(deployV1)) {
		t.Errorf("created unit = %+v", u)
	}
	e.unit(base, "trade-service-service", "apiVersion: v1\nkind: Service\nmetadata:\n  name: trade-service\n")

	eu, err := e.c.GetUnitBySlug(e.ctx, base.SpaceID, "trade-service-deployment")
	if err != nil || eu.Unit.UnitID != u.UnitID || eu.Space == nil || eu.Space.Slug != "traderx-base" {
		t.Fatalf("GetUnitBySlug = %+v, %v", eu, err)
	}
	if _, err := e.c.GetUnitBySlug(e.ctx, dev.SpaceID, "trade-service-deployment"); !confighub.IsNotFound(err) {
		t.Errorf("slug in other space: want NotFound, got %v", err)
	}
	if _, err := e.c.GetUnit(e.ctx, dev.SpaceID, u.UnitID); !confighub.IsNotFound(err) {
		t.Errorf("unit via wrong space: want NotFound, got %v", err)
	}
	if _, err := e.c.GetUnit(e.ctx, base.SpaceID, uuid.New()); !confighub.IsNotFound(err) {
		t.Errorf("unknown unit id: want NotFound, got %v", err)
	}

	list, err := e.c.ListUnits(e.ctx, base.SpaceID, confighub.Where().Like("Slug", "%-deployment").String())
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUnits LIKE = %d, %v", len(list), err)
	}
	all, err := e.c.ListAllUnits(e.ctx, confighub.Where().Eq("Space.Slug", "traderx-base").Eq("Labels.order", "3").String())
	if err != nil || len(all) != 2 {
		t.Fatalf("ListAllUnits Space.Slug = %d, %v", len(all), err)
	}
	unapplied, err := e.c.ListUnits(e.ctx, base.SpaceID, confighub.Where().Raw("HeadRevisionNum > LiveRevisionNum").String())
	if err != nil || len(unapplied) != 2 {
		t.Fatalf("unapplied = %d, %v", len(unapplied), err)
	}
	if _, err := e.c.ListUnits(e.ctx, base.SpaceID, "Slug = = 'x'"); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("bad where: want 400, got %v", err)
	}
	if _, err := e.c.ListUnits(e.ctx, base.SpaceID, confighub.Where().Eq("Slug", "it's").String()); err == nil {
		t.Error("a quote in a literal must be refused before sending")
	}

	if err := e.c.DeleteUnit(e.ctx, base.SpaceID, u.UnitID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetUnit(e.ctx, base.SpaceID, u.UnitID); !confighub.IsNotFound(err) {
		t.Errorf("deleted unit: want NotFound, got %v", err)
	}
}

func TestPatchUpdateAndRevisions(t *testing.T) {
	e := newEnv(t)
	sp := e.space("traderx-base")
	u := e.unit(sp, "trade-service-deployment", deployV1)

	v2 := strings.Replace(deployV1, "replicas: 1", "replicas: 2", 1)
	p, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": []byte(v2), "LastChangeDescription": "scale to 2",
		"Labels": map[string]any{"order": nil, "tier": "core"}}, confighub.UnitUpdateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if p.HeadRevisionNum != 2 || string(p.Data) != v2 {
		t.Errorf("after patch head=%d", p.HeadRevisionNum)
	}
	if diff := cmp.Diff(map[string]string{"tier": "core"}, p.Labels); diff != "" {
		t.Errorf("merge patch labels (-want +got):\n%s", diff)
	}

	v3 := strings.Replace(deployV1, ":v1", ":v2", 1)
	upd, err := e.c.UpdateUnit(e.ctx, sp.SpaceID, u.UnitID, func(u *confighub.Unit) error {
		u.Data = []byte(v3)
		u.LastChangeDescription = "image v2"
		return nil
	}, confighub.UnitUpdateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if upd.HeadRevisionNum != 3 {
		t.Errorf("after update head=%d, want 3", upd.HeadRevisionNum)
	}
	revs := e.revisions(sp, u)
	var descs []string
	for _, r := range revs {
		descs = append(descs, r.Revision.Description)
	}
	if diff := cmp.Diff([]string{"create trade-service-deployment", "scale to 2", "image v2"}, descs); diff != "" {
		t.Errorf("revision descriptions (-want +got):\n%s", diff)
	}
	r1, err := e.c.GetRevisionByNum(e.ctx, sp.SpaceID, u.UnitID, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, err := e.c.GetRevisionData(e.ctx, sp.SpaceID, u.UnitID, r1.RevisionID)
	if err != nil || string(data) != deployV1 {
		t.Errorf("revision 1 data = %q, %v", data, err)
	}
	got, err := e.c.GetRevision(e.ctx, sp.SpaceID, u.UnitID, r1.RevisionID)
	if err != nil || got.Revision.RevisionNum != 1 {
		t.Errorf("GetRevision = %+v, %v", got, err)
	}

	// Restore revision 1 by ID, then by pointer number: each makes a new head with old data.
	res, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"LastChangeDescription": "rollback to 1"},
		confighub.UnitUpdateParams{RevisionID: r1.RevisionID})
	if err != nil {
		t.Fatal(err)
	}
	if res.HeadRevisionNum != 4 || string(res.Data) != deployV1 {
		t.Errorf("restore by id: head=%d data-v1=%v", res.HeadRevisionNum, string(res.Data) == deployV1)
	}
	res, err = e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, nil, confighub.UnitUpdateParams{Restore: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.HeadRevisionNum != 5 || string(res.Data) != v3 {
		t.Errorf("restore=3: head=%d", res.HeadRevisionNum)
	}
	if _, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, nil, confighub.UnitUpdateParams{Restore: confighub.LiveRevisionNum}); err == nil ||
		!strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("restore of a never-applied live revision: want 400, got %v", err)
	}
	// A no-op patch of the same data adds no revision.
	if p, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": []byte(v3)}, confighub.UnitUpdateParams{}); err != nil || p.HeadRevisionNum != 5 {
		t.Errorf("idempotent patch: head=%d err=%v", p.HeadRevisionNum, err)
	}
}

func TestUpdateUnitConflictRetriesOnce(t *testing.T) {
	e := newEnv(t)
	sp := e.space("traderx-base")
	u := e.unit(sp, "web-gui-deployment", deployV1)
	calls := 0
	got, err := e.c.UpdateUnit(e.ctx, sp.SpaceID, u.UnitID, func(cur *confighub.Unit) error {
		calls++
		if calls == 1 { // someone else writes between our GET and PUT
			if _, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"DisplayName": "other writer"}, confighub.UnitUpdateParams{}); err != nil {
				return err
			}
		}
		cur.Labels = map[string]string{"mutated": "yes"}
		return nil
	}, confighub.UnitUpdateParams{})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || got.Labels["mutated"] != "yes" || got.DisplayName != "other writer" {
		t.Errorf("calls=%d unit=%+v", calls, got)
	}
	// Two conflicts in a row are reported as a conflict.
	_, err = e.c.UpdateUnit(e.ctx, sp.SpaceID, u.UnitID, func(cur *confighub.Unit) error {
		_, perr := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"DisplayName": uuid.NewString()}, confighub.UnitUpdateParams{})
		return perr
	}, confighub.UnitUpdateParams{})
	if !confighub.IsConflict(err) {
		t.Errorf("want conflict after two races, got %v", err)
	}
}

func TestCloneAndUpgrade(t *testing.T) {
	e := newEnv(t)
	base := e.space("traderx-base")
	dev := e.space("traderx-dev")
	bu := e.unit(base, "trade-service-deployment", deployV1)

	if _, err := e.c.CreateUnit(e.ctx, dev.SpaceID, confighub.Unit{Slug: "x", Data: []byte("a: 1")}, base.SpaceID, bu.UnitID); err == nil {
		t.Error("clone with Data must be refused")
	}
	clone, err := e.c.CreateUnit(e.ctx, dev.SpaceID, confighub.Unit{Slug: "trade-service-deployment"}, base.SpaceID, bu.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	if clone.UpstreamUnitID != bu.UnitID || clone.UpstreamSpaceID != base.SpaceID || clone.UpstreamRevisionNum != 1 || string(clone.Data) != deployV1 {
		t.Fatalf("clone = %+v", clone)
	}
	// Downstream override: replicas 3 in dev.
	devData := strings.Replace(deployV1, "replicas: 1", "replicas: 3", 1)
	if _, err := e.c.PatchUnit(e.ctx, dev.SpaceID, clone.UnitID, map[string]any{"Data": []byte(devData)}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	// Upstream change: new image.
	if _, err := e.c.PatchUnit(e.ctx, base.SpaceID, bu.UnitID, map[string]any{"Data": []byte(strings.Replace(deployV1, ":v1", ":v2", 1))}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	upgradable, err := e.c.ListUnits(e.ctx, dev.SpaceID, confighub.Where().Eq("UpstreamUnitID", bu.UnitID).Raw("UpstreamRevisionNum < UpstreamUnit.HeadRevisionNum").String())
	if err != nil || len(upgradable) != 1 {
		t.Fatalf("upgradable = %d, %v", len(upgradable), err)
	}
	up, err := e.c.PatchUnit(e.ctx, dev.SpaceID, clone.UnitID, nil, confighub.UnitUpdateParams{Upgrade: true})
	if err != nil {
		t.Fatal(err)
	}
	if up.UpstreamRevisionNum != 2 || up.HeadRevisionNum != 3 {
		t.Errorf("after upgrade upstream=%d head=%d", up.UpstreamRevisionNum, up.HeadRevisionNum)
	}
	if s := string(up.Data); !strings.Contains(s, "trade-service:v2") || !strings.Contains(s, "replicas: 3") {
		t.Errorf("upgrade must carry the image and keep the override:\n%s", s)
	}
	upgradable, _ = e.c.ListUnits(e.ctx, dev.SpaceID, confighub.Where().Raw("UpstreamRevisionNum < UpstreamUnit.HeadRevisionNum").String())
	if len(upgradable) != 0 {
		t.Errorf("still upgradable after upgrade: %d", len(upgradable))
	}
}

func TestApplyWaitAndLiveState(t *testing.T) {
	e := newEnv(t)
	e.wopts = []confighubtest.WorkerOption{confighubtest.WithOperationDelay(30 * time.Millisecond)}
	sp := e.space("traderx-dev")
	u := e.unit(sp, "trade-service-deployment", deployV1)

	_, err := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	var ae *confighub.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !strings.Contains(ae.Message, "Bridge worker unavailable") ||
		!strings.Contains(ae.Message, "no target") {
		t.Fatalf("apply without target: want 422 Bridge worker unavailable, no target; got %v", err)
	}
	tg := e.target(sp)
	if _, err := e.c.SetTarget(e.ctx, sp.SpaceID, u.UnitID, tg.TargetID); err != nil {
		t.Fatal(err)
	}
	targets, err := e.c.ListTargets(e.ctx, sp.SpaceID, "")
	if err != nil || len(targets) != 1 || targets[0].Target.Slug != "traderx-dev-worker-kwok" {
		t.Fatalf("ListTargets = %+v, %v", targets, err)
	}

	op, err := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	if op.RevisionNum != 1 || op.Action != confighub.ActionApply {
		t.Errorf("op = %+v", op)
	}
	ev, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != confighub.StatusCompleted || ev.Result != confighub.ResultApplyCompleted {
		t.Errorf("terminal event = %+v", ev)
	}
	eu, _ := e.c.GetUnit(e.ctx, sp.SpaceID, u.UnitID)
	if eu.Unit.LiveRevisionNum != 1 || eu.Unit.LastAppliedRevisionNum != 1 || eu.Unit.PreviousLiveRevisionNum != 0 {
		t.Errorf("pointers after apply: %+v", eu.Unit)
	}
	live, err := e.c.LiveState(e.ctx, sp.SpaceID, u.UnitID)
	if err != nil || string(live) != deployV1 {
		t.Errorf("live state = %q, %v", live, err)
	}
	evs, err := e.c.ListUnitEvents(e.ctx, sp.SpaceID, u.UnitID, "QueuedOperationID = '"+op.QueuedOperationID.String()+"'")
	if err != nil || len(evs) < 2 || evs[0].Status != confighub.StatusProgressing || !evs[len(evs)-1].IsTerminal() {
		t.Errorf("events = %+v, %v", evs, err)
	}
	r1, _ := e.c.GetRevisionByNum(e.ctx, sp.SpaceID, u.UnitID, 1)
	if r1.LiveAt.IsZero() {
		t.Error("revision 1 LiveAt not set")
	}

	// Second revision, then a failing apply: Live must stay at 1.
	if _, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": []byte(deployV1 + "# v2\n")}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	e.w.FailApplies("trade-service-deployment", "ImagePullBackOff: image not found", 1)
	op, err = e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	ev, err = e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op)
	var oe *confighub.OperationError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "ImagePullBackOff") || ev == nil || ev.Result != confighub.ResultApplyFailed {
		t.Fatalf("want operation failure with the message, got %v (event %+v)", err, ev)
	}
	eu, _ = e.c.GetUnit(e.ctx, sp.SpaceID, u.UnitID)
	if eu.Unit.LiveRevisionNum != 1 || eu.Unit.LastAppliedRevisionNum != 2 || eu.UnitStatus.Status != confighub.StatusFailed {
		t.Errorf("after failed apply: live=%d lastApplied=%d status=%+v", eu.Unit.LiveRevisionNum, eu.Unit.LastAppliedRevisionNum, eu.UnitStatus)
	}
	// The failure was consumed: the retry succeeds and shifts Previous <- Live.
	op, _ = e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	if _, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op); err != nil {
		t.Fatal(err)
	}
	eu, _ = e.c.GetUnit(e.ctx, sp.SpaceID, u.UnitID)
	if eu.Unit.LiveRevisionNum != 2 || eu.Unit.PreviousLiveRevisionNum != 1 {
		t.Errorf("after second apply: live=%d previous=%d", eu.Unit.LiveRevisionNum, eu.Unit.PreviousLiveRevisionNum)
	}
	// Rollback = restore PreviousLiveRevisionNum, then apply.
	res, err := e.c.PatchUnit(e.ctx, sp.SpaceID, u.UnitID, map[string]any{"LastChangeDescription": "rollback"},
		confighub.UnitUpdateParams{Restore: confighub.PreviousLiveRevisionNum})
	if err != nil || res.HeadRevisionNum != 3 || string(res.Data) != deployV1 {
		t.Fatalf("restore previous live: %+v, %v", res, err)
	}
}

func TestWaitSuperseded(t *testing.T) {
	e := newEnv(t)
	e.wopts = []confighubtest.WorkerOption{confighubtest.WithOperationDelay(200 * time.Millisecond)}
	sp := e.space("traderx-dev")
	u := e.unit(sp, "a", "kind: ConfigMap\n")
	tg := e.target(sp)
	e.c.SetTarget(e.ctx, sp.SpaceID, u.UnitID, tg.TargetID)
	op1, _ := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	op2, _ := e.c.Apply(e.ctx, sp.SpaceID, u.UnitID)
	if err := e.srv.WaitIdle(e.ctx); err != nil {
		t.Fatal(err)
	}
	// op2 arrived while op1 was running: the worker aborted op1, and op1's
	// own terminal event decides.
	ev, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op1)
	var oe *confighub.OperationError
	if !errors.As(err, &oe) || ev == nil || ev.Status != confighub.StatusAborted {
		t.Errorf("op1: want Aborted, got %+v, %v", ev, err)
	}
	if _, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, u.UnitID, op2); err != nil {
		t.Errorf("op2: %v", err)
	}
	// An operation the server never heard of times out with a clear error.
	ctx, cancel := context.WithTimeout(e.ctx, 300*time.Millisecond)
	defer cancel()
	unknown := uuid.New()
	_, err = e.c.WaitForOperation(ctx, sp.SpaceID, u.UnitID, &confighub.QueuedOperation{QueuedOperationID: unknown, Action: "Apply"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), unknown.String()) {
		t.Errorf("unknown op: %v", err)
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	sp := e.space("traderx-prod")
	a := e.unit(sp, "a-deployment", "kind: A\n")
	b := e.unit(sp, "b-deployment", "kind: B\n")
	tg := e.target(sp)
	e.c.SetTarget(e.ctx, sp.SpaceID, a.UnitID, tg.TargetID)
	op, _ := e.c.Apply(e.ctx, sp.SpaceID, a.UnitID)
	if _, err := e.c.WaitForOperation(e.ctx, sp.SpaceID, a.UnitID, op); err != nil {
		t.Fatal(err)
	}
	rel, err := e.c.CreateTag(e.ctx, sp.SpaceID, confighub.Tag{Slug: "release-1"})
	if err != nil {
		t.Fatal(err)
	}
	tags, err := e.c.ListTags(e.ctx, sp.SpaceID, "Slug = 'release-1'")
	if err != nil || len(tags) != 1 || tags[0].Tag.TagID != rel.TagID {
		t.Fatalf("ListTags = %+v, %v", tags, err)
	}
	where := confighub.Where().Eq("SpaceID", sp.SpaceID).Like("Slug", "%-deployment").String()
	// Only a was ever applied: tagging LiveRevisionNum is a mixed 207.
	resp, err := e.c.TagUnits(e.ctx, where, confighub.UnitTagRequest{TagID: rel.TagID, Revision: confighub.LiveRevisionNum})
	var be *confighub.BulkError
	if !errors.As(err, &be) || be.Status != http.StatusMultiStatus || len(be.Errors) != 1 || len(resp) != 2 {
		t.Fatalf("want 207 with one element error, got %v (%+v)", err, resp)
	}
	if be.Errors[0].ErrorMetadata == nil || be.Errors[0].ErrorMetadata.EntityID != b.UnitID.String() {
		t.Errorf("element error should name unit b: %+v", be.Errors[0])
	}
	resp, err = e.c.TagUnits(e.ctx, where, confighub.UnitTagRequest{TagID: rel.TagID, Revision: confighub.HeadRevisionNum})
	if err != nil || len(resp) != 2 {
		t.Fatalf("tag head: %v %+v", err, resp)
	}
	tagged, err := e.c.ListRevisions(e.ctx, sp.SpaceID, b.UnitID, "Tags ? '"+rel.TagID.String()+"'")
	if err != nil || len(tagged) != 1 || !tagged[0].Revision.HasTag(rel.TagID) {
		t.Fatalf("tagged revisions = %+v, %v", tagged, err)
	}
	// Restore from the tag after a change.
	e.c.PatchUnit(e.ctx, sp.SpaceID, b.UnitID, map[string]any{"Data": []byte("kind: B2\n")}, confighub.UnitUpdateParams{})
	res, err := e.c.PatchUnit(e.ctx, sp.SpaceID, b.UnitID, nil, confighub.UnitUpdateParams{Restore: "Tag:" + rel.TagID.String()})
	if err != nil || string(res.Data) != "kind: B\n" || res.HeadRevisionNum != 3 {
		t.Fatalf("restore Tag: %+v, %v", res, err)
	}
	if _, err := e.c.TagUnits(e.ctx, "", confighub.UnitTagRequest{TagID: rel.TagID, Revision: "HeadRevisionNum"}); err == nil {
		t.Error("TagUnits without where must be refused")
	}
}
