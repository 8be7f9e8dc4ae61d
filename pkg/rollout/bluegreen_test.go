package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// simLabel mirrors test/cluster.SimulationLabel (that package starts
// processes; this test needs no cluster).
const simLabel = "sim.traderx.finos.org/state"

// liveWorld is a stand-in cluster for orchestration tests: it renders the
// live revision of every unit of the environment space as a ready cluster.
// Pods labelled simLabel=crashloop crash-loop once they have been seen
// crashAfter times (deploy, validate and switch read once each), as kwok's
// stage does a few seconds after they are ready.
type liveWorld struct {
	t          *testing.T
	client     *confighub.Client
	space      string
	crashAfter int
	mu         sync.Mutex
	sightings  map[string]int
	reads      int
	fail       error // when set, every read fails
}

func (w *liveWorld) Snapshot(ctx context.Context, ns string) (*cluster.Snapshot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads++
	if w.fail != nil {
		return nil, w.fail
	}
	sp, err := w.client.GetSpaceBySlug(ctx, w.space)
	if err != nil {
		return nil, err
	}
	units, err := w.client.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, err
	}
	s := &cluster.Snapshot{Namespace: ns, TakenAt: time.Now(),
		NamespaceObject: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}}
	for _, eu := range units {
		u := eu.Unit
		if u.LiveRevisionNum == 0 {
			continue
		}
		rev, err := w.client.GetRevisionByNum(ctx, sp.SpaceID, u.UnitID, u.LiveRevisionNum)
		if err != nil {
			return nil, err
		}
		objs, err := manifests.Decode(rev.Data)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			switch o.GetKind() {
			case "Deployment":
				var d appsv1.Deployment
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
					return nil, err
				}
				w.deployment(s, &d, u.LiveRevisionNum)
			case "Service":
				var svc corev1.Service
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &svc); err != nil {
					return nil, err
				}
				s.Services = append(s.Services, svc)
			}
		}
	}
	for _, svc := range s.Services {
		es := discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}}}
		for _, p := range s.PodsMatching(labels.SelectorFromSet(svc.Spec.Selector)) {
			ready := p.Status.Conditions[0].Status == corev1.ConditionTrue
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: p.Name}})
		}
		s.EndpointSlices = append(s.EndpointSlices, es)
	}
	return s, nil
}

func (w *liveWorld) deployment(s *cluster.Snapshot, d *appsv1.Deployment, rev int64) {
	n := *d.Spec.Replicas
	d.Generation, d.Status.ObservedGeneration = 1, 1
	d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = n, n, n, n
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}
	for i := range n {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-r%d-%d", d.Name, rev, i), Labels: d.Spec.Template.Labels},
			Spec: d.Spec.Template.Spec, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		ready, cs := corev1.ConditionTrue, corev1.ContainerStatus{Name: d.Spec.Template.Spec.Containers[0].Name, Ready: true}
		if p.Labels[simLabel] == "crashloop" {
			if w.sightings == nil {
				w.sightings = map[string]int{}
			}
			if w.sightings[p.Name]++; w.sightings[p.Name] > w.crashAfter {
				ready, cs.Ready, cs.RestartCount = corev1.ConditionFalse, false, 2
				cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
				d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
			}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(s.TakenAt)}}
		s.Pods = append(s.Pods, p)
	}
	s.Deployments = append(s.Deployments, *d)
}

func blueGreenSetup(t *testing.T) (*rollout.Rollout, *liveWorld, *fakeClock, traderx.Environment) {
	t.Helper()
	gate := rollout.GateFunc(func(_ context.Context, env traderx.Environment, s []string) (*check.Report, error) {
		return report(env, check.StatusPass, s), nil
	})
	r, _, clock := setup(t, gate)
	dev, _ := traderx.LookupEnvironment("dev")
	if _, err := r.Apply(context.Background(), dev, rollout.ApplyOptions{Settle: -1}); err != nil {
		t.Fatal(err)
	}
	w := &liveWorld{t: t, client: r.Hub.(*confighub.Client), space: "traderx-dev", crashAfter: 3}
	return r, w, clock, dev
}

func bgOptions(w *liveWorld, version string) rollout.BlueGreenOptions {
	return rollout.BlueGreenOptions{Service: service(w.t, "trade-service"), Version: version, Cluster: w, Settle: -1,
		Soak: 30 * time.Second, SoakInterval: 10 * time.Second, Standby: time.Minute, PollInterval: time.Second, Timeout: 20 * time.Second}
}

func state(t *testing.T, r *rollout.Rollout, env traderx.Environment, w rollout.Reader) *rollout.BlueGreenState {
	t.Helper()
	st, err := r.BlueGreenStatus(context.Background(), spaceOf(t, r, env), env, service(t, "trade-service"), w)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Only the blue-green services are eligible, and the version must be a tag.
func TestBlueGreenInput(t *testing.T) {
	r, w, _, dev := blueGreenSetup(t)
	_, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, rollout.BlueGreenOptions{Service: service(t, "account-service"), Version: "1.0", Cluster: w})
	var ie *rollout.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "reference-data, position-service, trade-service") {
		t.Errorf("ineligible service: %v", err)
	}
	for _, v := range []string{"", "bad tag", "-x", strings.Repeat("1", 64)} {
		if _, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, rollout.BlueGreenOptions{Service: service(t, "trade-service"), Version: v, Cluster: w}); !errors.As(err, &ie) {
			t.Errorf("version %q: want InputError, got %v", v, err)
		}
	}
}

// A dry run returns the three unit edits with their diffs and writes nothing.
func TestBlueGreenDryRun(t *testing.T) {
	r, _, _, dev := blueGreenSetup(t)
	res, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, rollout.BlueGreenOptions{Service: service(t, "trade-service"), Version: "2.0.0", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.From != "blue" || res.To != "green" || res.Replicas != 1 || len(res.Plan) != 3 {
		t.Fatalf("plan: %+v", res)
	}
	want := []struct{ unit, after string }{
		{"trade-service-green-deployment", "image: ghcr.io/finos/traderx/trade-service:2.0.0"},
		{"trade-service-service", "color: green"},
		{"trade-service-blue-deployment", "replicas: 0"},
	}
	for i, e := range res.Plan {
		if e.Unit != want[i].unit || !e.Changed || e.ToRevision != 0 || !strings.Contains(string(e.After), want[i].after) {
			t.Errorf("edit %d: %s changed=%v to=%d, want %s with %q", i, e.Unit, e.Changed, e.ToRevision, want[i].unit, want[i].after)
		}
	}
	if st := state(t, r, dev, nil); st.Run != nil || st.Colour("green").Head != 2 || st.Colour("green").Replicas != 0 {
		t.Errorf("a dry run changed something: %+v", st)
	}
}

// A switch goes blue → green, records a release and retires blue; the
// next one flips back; the same version again is a no-op.
func TestBlueGreenSwitchAndFlipBack(t *testing.T) {
	r, w, clock, dev := blueGreenSetup(t)
	res, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if res.From != "blue" || res.To != "green" || res.Release == nil || res.Release.Description != "blue-green trade-service 2.0.0: blue → green" {
		t.Fatalf("result: %+v release %+v", res, res.Release)
	}
	st := state(t, r, dev, w)
	if st.Active != "green" || st.Run != nil || st.Colour("green").Replicas != 1 || st.Colour("green").Version != "2.0.0" ||
		st.Colour("blue").Replicas != 0 || st.LiveSelector != "green" || st.ReadyEndpoints != 1 {
		t.Errorf("after the switch: %+v", st)
	}
	var slept time.Duration
	for _, d := range clock.sleeps {
		slept += d
	}
	if slept < 90*time.Second {
		t.Errorf("soak + standby slept only %s", slept)
	}

	res, err = r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "2.1.0"))
	if err != nil || res.From != "green" || res.To != "blue" {
		t.Fatalf("second switch: %+v %v", res, err)
	}
	if st := state(t, r, dev, w); st.Active != "blue" || st.Colour("blue").Version != "2.1.0" || st.Colour("green").Replicas != 0 {
		t.Errorf("after flipping back: %+v", st)
	}
	res, err = r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "2.1.0"))
	if err != nil || !res.NothingToDo {
		t.Errorf("same version again: %+v %v", res, err)
	}
}

// A crash loop during the soak rolls back: Service on blue, green at zero,
// no release, the extra label gone from green on the next run.
func TestBlueGreenSoakFailureRollsBack(t *testing.T) {
	r, w, _, dev := blueGreenSetup(t)
	o := bgOptions(w, "2.0.0")
	o.ExtraPodLabels = map[string]string{simLabel: "crashloop"}
	_, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, o)
	var be *rollout.BlueGreenError
	if !errors.As(err, &be) || be.Phase != rollout.PhaseSoak || !be.RolledBack || !strings.Contains(be.Reason, "CrashLoopBackOff") {
		t.Fatalf("want a rolled-back soak failure, got %v", err)
	}
	st := state(t, r, dev, w)
	if st.Active != "blue" || st.LiveSelector != "blue" || st.ReadyEndpoints != 1 || st.Colour("green").Replicas != 0 || st.Run != nil {
		t.Errorf("after the rollback: %+v", st)
	}
	// The next run of green drops the simulation label.
	if _, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "2.0.1")); err != nil {
		t.Fatalf("run after the rollback: %v", err)
	}
}

// An interrupted run is resumed by the same command, refused with another
// version, and brought back by abort.
func TestBlueGreenInterruptResumeAbort(t *testing.T) {
	r, w, _, dev := blueGreenSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	r.Log = slogCancelOn(ctx, cancel, "phase 3/6 switch")
	_, err := r.BlueGreen(ctx, spaceOf(t, r, dev), dev, bgOptions(w, "2.0.0"))
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("want an interruption, got %v", err)
	}
	r.Log = nil
	st := state(t, r, dev, w)
	if st.Run == nil || st.Run.Previous != "blue" || st.Run.Version != "2.0.0" {
		t.Fatalf("run not recorded: %+v", st.Run)
	}
	var ie *rollout.InputError
	if _, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "3.0.0")); !errors.As(err, &ie) || !strings.Contains(err.Error(), "abort") {
		t.Errorf("another version during an unfinished run: %v", err)
	}
	// abort keeps blue (it served before and is healthy), green to zero.
	ab, err := r.BlueGreenAbort(context.Background(), spaceOf(t, r, dev), dev, rollout.BlueGreenAbortOptions{Service: service(t, "trade-service"), Cluster: w, Timeout: 20 * time.Second})
	if err != nil || ab.Kept != "blue" {
		t.Fatalf("abort: %+v %v", ab, err)
	}
	if st := state(t, r, dev, w); st.Run != nil || st.Active != "blue" || st.LiveSelector != "blue" || st.Colour("green").Replicas != 0 {
		t.Errorf("after abort: %+v", st)
	}

	// Interrupted after the switch, the re-run resumes and finishes.
	ctx, cancel = context.WithCancel(context.Background())
	r.Log = slogCancelOn(ctx, cancel, "phase 4/6 soak")
	if _, err := r.BlueGreen(ctx, spaceOf(t, r, dev), dev, bgOptions(w, "2.0.0")); err == nil {
		t.Fatal("want an interruption")
	}
	r.Log = nil
	if st := state(t, r, dev, w); st.Active != "green" || st.Run == nil {
		t.Fatalf("interrupted in the soak: %+v", st)
	}
	res, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "2.0.0"))
	if err != nil || !res.Resumed || res.From != "blue" || res.To != "green" {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if st := state(t, r, dev, w); st.Active != "green" || st.Run != nil || st.Colour("blue").Replicas != 0 {
		t.Errorf("after resuming: %+v", st)
	}
}

// slogCancelOn returns a logger that cancels ctx when a message contains
// marker: an interruption between two phases, as Ctrl-C would cause.
func slogCancelOn(_ context.Context, cancel context.CancelFunc, marker string) *slog.Logger {
	return slog.New(cancelHandler{cancel: cancel, marker: marker})
}

type cancelHandler struct {
	cancel context.CancelFunc
	marker string
}

func (h cancelHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.marker) {
		h.cancel()
	}
	return nil
}
func (h cancelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelHandler) WithGroup(string) slog.Handler      { return h }

type failingProber struct{ calls int }

func (p *failingProber) Get(_ context.Context, ns, service string, port int32, path string) error {
	p.calls++
	return fmt.Errorf("GET %s/%s:%d%s: 503", ns, service, port, path)
}

// --probe: a health endpoint that does not answer after the switch rolls back.
func TestBlueGreenProbeFailureRollsBack(t *testing.T) {
	r, w, _, dev := blueGreenSetup(t)
	p := &failingProber{}
	o := bgOptions(w, "2.0.0")
	o.Prober = p
	_, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, o)
	var be *rollout.BlueGreenError
	if !errors.As(err, &be) || be.Phase != rollout.PhaseSwitch || !be.RolledBack || !strings.Contains(be.Reason, "HTTP probe GET trade-service:18092") || p.calls < 3 {
		t.Fatalf("want a rolled-back switch after %d probes, got %v", p.calls, err)
	}
	if st := state(t, r, dev, w); st.Active != "blue" || st.LiveSelector != "blue" || st.Colour("green").Replicas != 0 {
		t.Errorf("after the rollback: %+v", st)
	}
}
