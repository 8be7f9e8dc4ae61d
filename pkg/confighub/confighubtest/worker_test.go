package confighubtest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

const cmData = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  k: v\n"

// testBackend is a Backend the test steers: objects are ready only once
// ready is set; each error field, when set, is returned by its call.
type testBackend struct {
	mu       sync.Mutex
	ready    bool
	applyErr error
	waitErr  error
	drifted  bool
	merged   []byte
	applied  []bool // dryRun of each Apply call
	waits    int
}

func (b *testBackend) set(f func(*testBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *testBackend) Apply(_ context.Context, _ TargetParams, data []byte, dryRun bool) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applied = append(b.applied, dryRun)
	if b.applyErr != nil {
		return nil, b.applyErr
	}
	return append([]byte("live:\n"), data...), nil
}

func (b *testBackend) WaitReady(_ context.Context, t TargetParams, _ []byte) (map[string]confighub.ResourceStatus, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waits++
	if t.KubeContext == "" || t.WaitTimeout != DefaultWaitTimeout {
		return nil, fmt.Errorf("worker passed target params %+v", t)
	}
	if b.waitErr != nil {
		return nil, b.waitErr
	}
	st := map[string]confighub.ResourceStatus{"v1/ConfigMap:default/probe": {Readiness: "InProgress"}}
	if !b.ready {
		return st, fmt.Errorf("%w: 1 object in progress", ErrWaitTimeout)
	}
	st["v1/ConfigMap:default/probe"] = confighub.ResourceStatus{Readiness: "Ready"}
	return st, nil
}

func (b *testBackend) Refresh(_ context.Context, _ TargetParams, data []byte) ([]byte, []byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.drifted {
		return data, []byte("live"), false, nil
	}
	return b.merged, []byte("live-drifted"), true, nil
}

type fixture struct {
	t   *testing.T
	srv *Server
	c   *confighub.Client
	ctx context.Context
	w   *Worker
	sp  *confighub.Space
}

const (
	testSpace  = "traderx-dev"
	testWorker = "dev-worker"
	testCtx    = "kwok-traderx"
)

func newFixture(t *testing.T, b Backend, opts ...WorkerOption) *fixture {
	t.Helper()
	srv := NewServer(WithHeartbeatInterval(20 * time.Millisecond))
	t.Cleanup(srv.Close)
	c, err := confighub.New(srv.Credentials(), confighub.WithWaitPolicy(confighub.WaitPolicy{Initial: 5 * time.Millisecond,
		Cap: 20 * time.Millisecond, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	opts = append([]WorkerOption{WithRetryBackoff(5*time.Millisecond, 20*time.Millisecond)}, opts...)
	w, err := srv.StartWorker(ctx, testSpace, testWorker, []string{testCtx}, b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	sp, err := c.GetSpaceBySlug(ctx, testSpace)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, srv: srv, c: c, ctx: ctx, w: w, sp: sp}
}

// unit creates a unit on the worker's target.
func (f *fixture) unit(slug string) *confighub.Unit {
	f.t.Helper()
	u, err := f.c.CreateUnit(f.ctx, f.sp.SpaceID, confighub.Unit{Slug: slug, ToolchainType: confighub.ToolchainKubernetesYAML,
		Data: []byte(cmData)}, uuid.Nil, uuid.Nil)
	if err != nil {
		f.t.Fatal(err)
	}
	tid, err := f.w.TargetID(f.ctx, KubeContextTarget(testWorker, testCtx))
	if err != nil {
		f.t.Fatal(err)
	}
	if u, err = f.c.SetTarget(f.ctx, f.sp.SpaceID, u.UnitID, tid); err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) get(u *confighub.Unit) *confighub.ExtendedUnit {
	f.t.Helper()
	eu, err := f.c.GetUnit(f.ctx, f.sp.SpaceID, u.UnitID)
	if err != nil {
		f.t.Fatal(err)
	}
	return eu
}

func (f *fixture) events(u *confighub.Unit, op *confighub.QueuedOperation) []confighub.UnitEvent {
	f.t.Helper()
	evs, err := f.c.ListUnitEvents(f.ctx, f.sp.SpaceID, u.UnitID, "QueuedOperationID = '"+op.QueuedOperationID.String()+"'")
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

// eventually polls cond until it holds or the fixture's context ends.
func (f *fixture) eventually(what string, cond func() bool) {
	f.t.Helper()
	for !cond() {
		select {
		case <-f.ctx.Done():
			f.t.Fatalf("timed out waiting until %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (f *fixture) worker() confighub.BridgeWorker {
	f.t.Helper()
	ew, err := f.c.GetBridgeWorker(f.ctx, f.sp.SpaceID, f.w.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return *ew.BridgeWorker
}

func (f *fixture) statuses() []string {
	f.t.Helper()
	l, err := f.c.ListBridgeWorkerStatuses(f.ctx, f.sp.SpaceID, f.w.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, s := range l {
		out = append(out, s.Status)
	}
	return out
}

func TestWorkerRegistersConnectsAndAdvertises(t *testing.T) {
	f := newFixture(t, NoopBackend{})
	list, err := f.c.ListBridgeWorkers(f.ctx, f.sp.SpaceID, "Slug = '"+testWorker+"'")
	if err != nil || len(list) != 1 {
		t.Fatalf("ListBridgeWorkers = %+v, %v", list, err)
	}
	bw := list[0].BridgeWorker
	if bw.BridgeWorkerID != f.w.ID || bw.Condition != confighub.WorkerReady || bw.Secret == "" || list[0].TargetCount != 1 {
		t.Errorf("worker = %+v (targets %d)", bw, list[0].TargetCount)
	}
	if bw.ProvidedInfo == nil || len(bw.ProvidedInfo.BridgeWorkerInfo.SupportedConfigTypes) != 1 {
		t.Fatalf("ProvidedInfo = %+v", bw.ProvidedInfo)
	}
	targets, err := f.c.ListTargets(f.ctx, f.sp.SpaceID, "")
	if err != nil || len(targets) != 1 {
		t.Fatalf("targets = %+v, %v", targets, err)
	}
	tg := targets[0].Target
	if tg.Slug != "dev-worker-kwok-traderx" || tg.BridgeWorkerID != f.w.ID || tg.ProviderType != "Kubernetes" ||
		tg.ToolchainType != confighub.ToolchainKubernetesYAML || tg.Parameters != `{"KubeContext":"kwok-traderx","WaitTimeout":"2m0s"}` {
		t.Errorf("advertised target = %+v", tg)
	}
	if got := f.w.Targets(); len(got) != 1 || got[0] != tg.Slug {
		t.Errorf("Targets() = %v", got)
	}
	// Heartbeats keep LastSeenAt moving while the stream is open.
	first := f.worker().LastSeenAt
	f.eventually("a heartbeat answer moves LastSeenAt", func() bool { return f.worker().LastSeenAt.After(first) })
	if st := f.statuses(); len(st) == 0 || st[0] != confighub.WorkerStatusConnected {
		t.Errorf("statuses = %v", st)
	}

	// The worker routes take the worker's secret, not the user's token.
	c := rawClient{t, f.srv}
	if r := c.do("GET", workerMePath(f.w.ID), f.srv.Token, nil, ""); r.status != http.StatusUnauthorized {
		t.Errorf("me with the user token: %d", r.status)
	}
	if r := c.do("GET", workerMePath(f.w.ID), bw.Secret, nil, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), testWorker) {
		t.Errorf("me with the secret: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/api/bridge_worker", f.srv.Token, nil, "").list(t); len(r) != 1 {
		t.Errorf("GET /api/bridge_worker = %v", r)
	}
	// Creating the same worker again is the idempotent no-op of createOnce.
	again, err := f.c.CreateBridgeWorker(f.ctx, f.sp.SpaceID, confighub.BridgeWorker{Slug: testWorker})
	if !confighub.IsConflict(err) || again != nil {
		t.Errorf("duplicate worker create: %+v, %v", again, err)
	}
}

func TestAdvertisedTargetNames(t *testing.T) {
	for _, tc := range []struct {
		name     string
		contexts []string
		opts     []WorkerOption
		want     map[string]string // target slug -> Parameters
	}{
		{"in-cluster, named after the worker", nil, nil, map[string]string{"w1": `{"WaitTimeout":"2m0s"}`}},
		{"in-cluster, IN_CLUSTER_TARGET_NAME", nil, []WorkerOption{WithInClusterTargetName("cluster-a")},
			map[string]string{"cluster-a": `{"WaitTimeout":"2m0s"}`}},
		{"one per kube context, slugified", []string{"kind-TraderX Dev", "prod"}, nil, map[string]string{
			"w1-kind-traderx-dev": `{"KubeContext":"kind-TraderX Dev","WaitTimeout":"2m0s"}`,
			"w1-prod":             `{"KubeContext":"prod","WaitTimeout":"2m0s"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer()
			defer srv.Close()
			w, err := srv.StartWorker(t.Context(), "s1", "w1", tc.contexts, NoopBackend{}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			c, _ := confighub.New(srv.Credentials())
			list, err := c.ListTargets(t.Context(), w.SpaceID, "BridgeWorkerID = '"+w.ID.String()+"'")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, et := range list {
				got[et.Target.Slug] = et.Target.Parameters
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("targets = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCreateTargetRequiresWorker(t *testing.T) {
	f := newFixture(t, NoopBackend{})
	c := rawClient{t, f.srv}
	path := "/api/space/" + f.sp.SpaceID.String() + "/target"
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"no worker", map[string]any{"Slug": "a", "ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes"}, 400, "BridgeWorkerID is required"},
		{"no provider", map[string]any{"Slug": "a", "ToolchainType": "Kubernetes/YAML", "BridgeWorkerID": f.w.ID}, 400, "ProviderType is required"},
		{"nothing", map[string]any{"Slug": "a"}, 400, "BridgeWorkerID, ToolchainType, ProviderType are required"},
		{"unknown worker", map[string]any{"Slug": "a", "ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes",
			"BridgeWorkerID": uuid.New()}, 400, "does not exist"},
		{"complete", map[string]any{"Slug": "a", "ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes",
			"BridgeWorkerID": f.w.ID}, 200, `"BridgeWorkerID":"` + f.w.ID.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", path, f.srv.Token, tc.body, "application/json")
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("= %d %s, want %d containing %q", r.status, r.body, tc.status, tc.want)
			}
		})
	}
}

func TestApplyNeedsAConnectedWorker(t *testing.T) {
	f := newFixture(t, NoopBackend{})
	bare, err := f.c.CreateUnit(f.ctx, f.sp.SpaceID, confighub.Unit{Slug: "bare", ToolchainType: confighub.ToolchainKubernetesYAML,
		Data: []byte(cmData)}, uuid.Nil, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	u := f.unit("probe")
	check := func(u *confighub.Unit, action func(context.Context, uuid.UUID, uuid.UUID) (*confighub.QueuedOperation, error), want string) {
		t.Helper()
		_, err := action(f.ctx, f.sp.SpaceID, u.UnitID)
		var ae *confighub.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || !strings.Contains(ae.Message, "Bridge worker unavailable") ||
			!strings.Contains(ae.Message, want) {
			t.Errorf("%s: want 422 Bridge worker unavailable … %s, got %v", u.Slug, want, err)
		}
	}
	check(bare, f.c.Apply, "has no target")
	check(bare, f.c.RefreshUnit, "has no target")
	f.w.Stop()
	f.eventually("the server sees the worker leave", func() bool { return f.worker().Condition == confighub.WorkerDisconnected })
	check(u, f.c.Apply, "worker dev-worker of target dev-worker-kwok-traderx is Disconnected")
	check(u, f.c.RefreshUnit, "worker dev-worker")
	if eu := f.get(u); eu.Unit.LastAppliedRevisionNum != 0 || eu.LatestUnitEvent != nil {
		t.Errorf("a refused apply changed the unit: %+v", eu.Unit)
	}
}

func TestApplyWaitsForReadinessAndRetries(t *testing.T) {
	b := &testBackend{}
	f := newFixture(t, b)
	u := f.unit("probe")
	op, err := f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != confighub.StatusPending || op.RevisionNum != 1 || op.BridgeWorkerID != f.w.ID {
		t.Errorf("queued op = %+v", op)
	}
	f.eventually("the wait has been retried", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.waits >= 3
	})
	eu := f.get(u)
	if eu.Unit.LastAppliedRevisionNum != 1 || eu.Unit.LiveRevisionNum != 0 || eu.UnitStatus.Status != confighub.StatusProgressing {
		t.Errorf("while waiting: unit %+v status %+v", eu.Unit, eu.UnitStatus)
	}
	var retry *confighub.UnitEvent
	for _, ev := range f.events(u, op) {
		if ev.IsTerminal() {
			t.Fatalf("terminal event while not ready: %+v", ev)
		}
		if strings.Contains(ev.Message, "still waiting") {
			retry = &ev
		}
	}
	if retry == nil || retry.ResourceStatuses["v1/ConfigMap:default/probe"].Readiness != "InProgress" {
		t.Fatalf("no Progressing event saying it still waits, with statuses: %+v", f.events(u, op))
	}

	b.set(func(b *testBackend) { b.ready = true })
	ev, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Result != confighub.ResultApplyCompleted || ev.ResourceStatuses["v1/ConfigMap:default/probe"].Readiness != "Ready" ||
		ev.TerminatedAt.IsZero() || ev.BridgeWorkerID != f.w.ID {
		t.Errorf("terminal event = %+v", ev)
	}
	eu = f.get(u)
	if eu.Unit.LiveRevisionNum != 1 || eu.Unit.PreviousLiveRevisionNum != 0 || string(eu.Unit.LiveState) != "live:\n"+cmData ||
		eu.UnitStatus.Status != confighub.StatusCompleted || eu.UnitStatus.ActionResult != confighub.ResultApplyCompleted {
		t.Errorf("after apply: unit %+v status %+v", eu.Unit, eu.UnitStatus)
	}
	if r, _ := f.c.GetRevisionByNum(f.ctx, f.sp.SpaceID, u.UnitID, 1); r == nil || r.LiveAt.IsZero() {
		t.Error("revision 1 LiveAt not set")
	}
	st := strings.Join(f.statuses(), ",")
	if !strings.HasPrefix(st, "Connected,ActionSent,ActionResultReceived") {
		t.Errorf("worker statuses = %s", st)
	}
	// A second revision applied: Previous <- Live.
	if _, err := f.c.PatchUnit(f.ctx, f.sp.SpaceID, u.UnitID, map[string]any{"Data": []byte(cmData + "  k2: v2\n")}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	op, _ = f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID)
	if _, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op); err != nil {
		t.Fatal(err)
	}
	if eu = f.get(u); eu.Unit.LiveRevisionNum != 2 || eu.Unit.PreviousLiveRevisionNum != 1 {
		t.Errorf("pointers after the second apply: %+v", eu.Unit)
	}
}

func TestApplyOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		backend    *testBackend
		opts       confighub.ActionOptions
		status     string
		result     string
		msg        string
		live       int64
		lastApply  int64
		dryRunSeen bool
	}{
		{"ready", &testBackend{ready: true}, confighub.ActionOptions{}, "Completed", "ApplyCompleted", "resources ready", 1, 1, false},
		{"apply refused", &testBackend{applyErr: errors.New("admission webhook denied")}, confighub.ActionOptions{},
			"Failed", "ApplyFailed", "admission webhook denied", 0, 1, false},
		{"wait broke", &testBackend{waitErr: errors.New("watch closed")}, confighub.ActionOptions{},
			"Failed", "ApplyWaitFailed", "watch closed", 0, 1, false},
		{"dry run, never waits", &testBackend{}, confighub.ActionOptions{DryRun: true},
			"Completed", "ApplyCompleted", "Dry run completed", 0, 0, true},
		{"dry run refused", &testBackend{applyErr: errors.New("invalid object")}, confighub.ActionOptions{DryRun: true},
			"Failed", "ApplyFailed", "invalid object", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.backend
			f := newFixture(t, b)
			u := f.unit("probe")
			op, err := f.c.ApplyWith(f.ctx, f.sp.SpaceID, u.UnitID, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if op.DryRun != tc.opts.DryRun {
				t.Errorf("op DryRun = %v", op.DryRun)
			}
			ev, _ := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op)
			if ev == nil || ev.Status != tc.status || ev.Result != tc.result || !strings.Contains(ev.Message, tc.msg) {
				t.Fatalf("terminal event = %+v, want %s/%s %q", ev, tc.status, tc.result, tc.msg)
			}
			eu := f.get(u)
			if eu.Unit.LiveRevisionNum != tc.live || eu.Unit.LastAppliedRevisionNum != tc.lastApply {
				t.Errorf("live=%d lastApplied=%d, want %d %d", eu.Unit.LiveRevisionNum, eu.Unit.LastAppliedRevisionNum, tc.live, tc.lastApply)
			}
			if eu.UnitStatus.Status != tc.status || eu.UnitStatus.ActionResult != tc.result {
				t.Errorf("UnitStatus = %+v", eu.UnitStatus)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.applied) != 1 || b.applied[0] != tc.dryRunSeen {
				t.Errorf("backend applies (dry run flags) = %v", b.applied)
			}
			if tc.opts.DryRun && b.waits != 0 {
				t.Errorf("a dry run waited %d times", b.waits)
			}
		})
	}
}

func TestRefresh(t *testing.T) {
	merged := []byte(cmData + "  added-live: x\n")
	for _, tc := range []struct {
		name    string
		drifted bool
		dryRun  bool
		result  string
		head    int64
		data    string
	}{
		{"no drift", false, false, confighub.ResultRefreshAndNoDrift, 1, cmData},
		{"drift, dry run: live state only", true, true, confighub.ResultRefreshAndDrifted, 1, cmData},
		{"drift adopted as a new head", true, false, confighub.ResultRefreshAndDrifted, 2, string(merged)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, &testBackend{ready: true, drifted: tc.drifted, merged: merged})
			u := f.unit("probe")
			op, err := f.c.RefreshWith(f.ctx, f.sp.SpaceID, u.UnitID, confighub.ActionOptions{DryRun: tc.dryRun})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op)
			if err != nil || ev.Result != tc.result {
				t.Fatalf("refresh = %+v, %v", ev, err)
			}
			eu := f.get(u)
			wantLive := "live"
			if tc.drifted {
				wantLive = "live-drifted"
			}
			if eu.Unit.HeadRevisionNum != tc.head || string(eu.Unit.Data) != tc.data || string(eu.Unit.LiveState) != wantLive ||
				eu.Unit.LiveRevisionNum != 0 || eu.UnitStatus.ActionResult != tc.result {
				t.Errorf("after refresh: head=%d live=%d data=%q liveState=%q status=%+v", eu.Unit.HeadRevisionNum,
					eu.Unit.LiveRevisionNum, eu.Unit.Data, eu.Unit.LiveState, eu.UnitStatus)
			}
			if tc.head == 2 {
				r, _ := f.c.GetRevisionByNum(f.ctx, f.sp.SpaceID, u.UnitID, 2)
				if r == nil || r.Source != "Refresh" || !strings.Contains(r.Description, "adopted live changes") {
					t.Errorf("adopting revision = %+v", r)
				}
			}
		})
	}
}

func TestWorkerStopMidApply(t *testing.T) {
	b := &testBackend{ready: true}
	f := newFixture(t, b)
	u := f.unit("probe")
	f.w.DisconnectOnApply("probe")
	op, err := f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	f.eventually("the worker is Disconnected", func() bool { return f.worker().Condition == confighub.WorkerDisconnected })
	st := f.statuses()
	if st[len(st)-1] != confighub.WorkerStatusDisconnected {
		t.Errorf("statuses = %v", st)
	}
	for _, ev := range f.events(u, op) {
		if ev.Status != confighub.StatusProgressing {
			t.Errorf("an operation cut off by the disconnect reported %+v", ev)
		}
	}
	eu := f.get(u)
	if eu.UnitStatus.Status != confighub.StatusProgressing || eu.Unit.LiveRevisionNum != 0 || eu.Unit.LastAppliedRevisionNum != 1 {
		t.Errorf("unit after the worker left: %+v %+v", eu.Unit, eu.UnitStatus)
	}
	if err := f.srv.WaitIdle(f.ctx); err != nil {
		t.Errorf("WaitIdle must not wait for a gone worker: %v", err)
	}
	if _, err := f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID); err == nil || !strings.Contains(err.Error(), "Bridge worker unavailable") {
		t.Errorf("apply after the disconnect: %v", err)
	}
	if f.w.Err() != nil {
		t.Errorf("a worker that stopped itself reports %v", f.w.Err())
	}
}

func TestNewerApplyOverridesWaitingApply(t *testing.T) {
	f := newFixture(t, &testBackend{ready: true})
	u := f.unit("probe")
	f.w.SetNeverReady("probe", true)
	op1, err := f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	f.eventually("op1 retries its wait", func() bool {
		for _, ev := range f.events(u, op1) {
			if strings.Contains(ev.Message, "still waiting") {
				return true
			}
		}
		return false
	})
	// op2 fails before any wait, so op1 cannot finish unless overridden.
	f.w.FailApplies("probe", "quota exceeded", 1)
	op2, err := f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID)
	if err != nil {
		t.Fatal(err)
	}
	ev1, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op1)
	var oe *confighub.OperationError
	if !errors.As(err, &oe) || ev1 == nil || ev1.Status != confighub.StatusAborted ||
		ev1.Message != "Operation overridden by newer operation "+op2.QueuedOperationID.String() {
		t.Fatalf("op1 = %+v, %v", ev1, err)
	}
	ev2, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op2)
	if !errors.As(err, &oe) || ev2.Result != confighub.ResultApplyFailed || ev2.Message != "quota exceeded" {
		t.Fatalf("op2 = %+v, %v", ev2, err)
	}
	// The injected failure was consumed: a third apply completes.
	f.w.SetNeverReady("probe", false)
	op3, _ := f.c.Apply(f.ctx, f.sp.SpaceID, u.UnitID)
	if _, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op3); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.WaitIdle(f.ctx); err != nil {
		t.Fatal(err)
	}
	for _, ev := range f.events(u, op1) {
		if ev.Status == confighub.StatusCompleted || ev.Status == confighub.StatusFailed {
			t.Errorf("the overridden operation reported after its Aborted: %+v", ev)
		}
	}
}

func TestServerCloseDropsWorker(t *testing.T) {
	srv := NewServer()
	w, err := srv.StartWorker(t.Context(), "s1", "w1", nil, NoopBackend{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for w.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w.Err() == nil {
		t.Error("Err() should say the stream ended")
	}
	w.Stop()
}

// TestStreamWireFormat speaks the worker protocol by hand, pinning the
// shapes the SDK worker reads and writes (bridge-worker/lib/client.go).
func TestStreamWireFormat(t *testing.T) {
	srv := NewServer(WithHeartbeatInterval(10 * time.Millisecond))
	defer srv.Close()
	c := rawClient{t, srv}
	sid := c.ok("POST", "/api/space", map[string]any{"Slug": "s1"})["SpaceID"].(string)
	bw := c.ok("POST", "/api/space/"+sid+"/bridge_worker", map[string]any{"Slug": "w1"})
	hasKeys(t, "BridgeWorker", bw, "BridgeWorkerID", "Slug", "SpaceID", "Secret", "Condition", "Version", "CreatedAt")
	wid, secret := bw["BridgeWorkerID"].(string), bw["Secret"].(string)

	info := `{"BridgeWorkerInfo":{"SupportedConfigTypes":[{"ToolchainType":"Kubernetes/YAML","ProviderType":"Kubernetes",` +
		`"AvailableTargets":[{"Name":"w1-kind","Params":{"KubeContext":"kind","WaitTimeout":"2m0s"}}]}]},"FunctionWorkerInfo":{}}`
	if r := c.do("POST", "/api/bridge_worker/"+wid+"/stream", srv.Token, []byte(info), "application/json"); r.status != http.StatusUnauthorized {
		t.Fatalf("stream with the user token: %d", r.status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/bridge_worker/"+wid+"/stream", strings.NewReader(info))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	next := func(event string) map[string]any {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case l := <-lines:
				data, ok := strings.CutPrefix(l, "data: ")
				if !ok {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					t.Fatalf("not JSON: %q", l)
				}
				if m["Event"] == event {
					return m["Data"].(map[string]any)
				}
			case <-timeout:
				t.Fatalf("no %s on the stream", event)
			}
		}
	}
	hb := next("WorkerEvent")
	if hb["Action"] != "Heartbeat" || hb["Payload"].(map[string]any)["Timestamp"].(float64) <= 0 {
		t.Errorf("heartbeat = %v", hb)
	}

	tgs := c.do("GET", "/api/space/"+sid+"/target", srv.Token, nil, "").list(t)
	if len(tgs) != 1 {
		t.Fatalf("advertised targets = %v", tgs)
	}
	tg := tgs[0]["Target"].(map[string]any)
	data := []byte(cmData)
	u := c.ok("POST", "/api/space/"+sid+"/unit", map[string]any{"Slug": "probe", "ToolchainType": "Kubernetes/YAML",
		"Data": data, "TargetID": tg["TargetID"]})
	unitPath := "/api/space/" + sid + "/unit/" + u["UnitID"].(string)
	op := c.ok("POST", unitPath+"/apply?dry_run=false", nil)
	ev := next("BridgeWorkerEvent")
	p := ev["Payload"].(map[string]any)
	if ev["Action"] != "Apply" || p["QueuedOperationID"] != op["QueuedOperationID"] || p["UnitSlug"] != "probe" ||
		p["UnitID"] != u["UnitID"] || p["SpaceID"] != sid || p["RevisionNum"].(float64) != 1 || p["DryRun"] != false ||
		p["ToolchainType"] != "Kubernetes/YAML" || p["ProviderType"] != "Kubernetes" {
		t.Errorf("apply event = %v", ev)
	}
	if p["Data"] != base64.StdEncoding.EncodeToString(data) ||
		p["TargetParams"] != base64.StdEncoding.EncodeToString([]byte(`{"KubeContext":"kind","WaitTimeout":"2m0s"}`)) {
		t.Errorf("Data/TargetParams are not base64 of the unit data and target parameters: %v", p)
	}

	result := map[string]any{"QueuedOperationID": op["QueuedOperationID"], "UnitID": u["UnitID"], "SpaceID": sid, "RevisionNum": 1,
		"Action": "Apply", "Status": "Completed", "Result": "ApplyCompleted", "Message": "done",
		"StartedAt": time.Now().UTC(), "LiveState": base64.StdEncoding.EncodeToString([]byte("live"))}
	if r := c.do("POST", "/api/bridge_worker/"+wid+"/action_result", srv.Token, result, "application/json"); r.status != http.StatusUnauthorized {
		t.Errorf("action_result with the user token: %d", r.status)
	}
	if r := c.do("POST", "/api/bridge_worker/"+wid+"/action_result", secret, result, "application/json"); r.status != 200 {
		t.Fatalf("action_result: %d %s", r.status, r.body)
	}
	if r := c.do("POST", "/api/bridge_worker/"+wid+"/action_result", secret, result, "application/json"); r.status != http.StatusConflict {
		t.Errorf("a second terminal result for the same operation: %d %s", r.status, r.body)
	}
	got := c.ok("GET", unitPath, nil)["Unit"].(map[string]any)
	if got["LiveRevisionNum"].(float64) != 1 || got["LiveState"] != base64.StdEncoding.EncodeToString([]byte("live")) {
		t.Errorf("unit after the result = %v", got)
	}

	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := c.ok("GET", "/api/space/"+sid+"/bridge_worker/"+wid, nil)["BridgeWorker"].(map[string]any)
		if w["Condition"] == "Disconnected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker still %v after its stream closed", w["Condition"])
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := c.do("GET", "/api/space/"+sid+"/bridge_worker/"+wid+"/status", srv.Token, nil, "").list(t)
	var seq []string
	for _, s := range st {
		seq = append(seq, s["Status"].(string))
	}
	if strings.Join(seq, ",") != "Connected,ActionSent,ActionResultReceived,Disconnected" {
		t.Errorf("statuses = %v", seq)
	}
}

func TestApplyAtRevision(t *testing.T) {
	f := newFixture(t, &testBackend{ready: true})
	u := f.unit("probe")
	if _, err := f.c.PatchUnit(f.ctx, f.sp.SpaceID, u.UnitID, map[string]any{"Data": []byte(cmData + "  k2: v2\n")}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	op, err := f.c.ApplyWith(f.ctx, f.sp.SpaceID, u.UnitID, confighub.ActionOptions{Revision: "1"})
	if err != nil || op.RevisionNum != 1 {
		t.Fatalf("apply at revision 1: %+v, %v", op, err)
	}
	if _, err := f.c.WaitForOperation(f.ctx, f.sp.SpaceID, u.UnitID, op); err != nil {
		t.Fatal(err)
	}
	eu := f.get(u)
	if eu.Unit.HeadRevisionNum != 2 || eu.Unit.LiveRevisionNum != 1 || eu.Unit.LastAppliedRevisionNum != 1 ||
		string(eu.Unit.LiveState) != "live:\n"+cmData {
		t.Errorf("after apply at revision 1: %+v", eu.Unit)
	}
	if _, err := f.c.ApplyWith(f.ctx, f.sp.SpaceID, u.UnitID, confighub.ActionOptions{Revision: "7"}); err == nil {
		t.Error("apply of a revision that does not exist was accepted")
	}
}
