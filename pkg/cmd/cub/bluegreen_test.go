package cub

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

const bgService = "reference-data" // tier 1, no dependencies: the cheapest to bring up

var bgUnits = []string{"reference-data-blue-deployment", "reference-data-green-deployment", "reference-data-service"}

// bgSetup installs dev and brings up only what reference-data needs (the
// namespace and its three units), applied through the stand-in's worker.
func bgSetup(t *testing.T) (*harness, kubernetes.Interface) {
	t.Helper()
	h := newHarness(t, true)
	if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	sp := h.space("traderx-dev")
	units := h.units("traderx-dev")
	for _, slug := range append([]string{manifests.NamespaceUnit}, bgUnits...) {
		op, err := h.client.Apply(h.ctx, sp.SpaceID, units[slug].UnitID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.WaitForOperation(h.ctx, sp.SpaceID, units[slug].UnitID, op); err != nil {
			t.Fatalf("apply %s: %v", slug, err)
		}
	}
	ro, err := kubernetes.NewForConfig(cluster.ReadOnly(testCluster.Config))
	if err != nil {
		t.Fatal(err)
	}
	waitBG(t, h, ro, "blue", 1)
	return h, ro
}

// waitBG waits until the live Service selects active with only its ready
// pods behind it, and the other colour has no pods.
func waitBG(t *testing.T, h *harness, c kubernetes.Interface, active string, replicas int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		s, err := cluster.Take(h.ctx, c, "traderx-dev")
		if err != nil {
			t.Fatal(err)
		}
		last = bgLiveState(s, active, replicas)
		if last == "" {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("reference-data never reached %s×%d: %s", active, replicas, last)
}

// bgLiveState says what differs from "Service on active, only ready active
// pods as endpoints, the other colour at zero" ("" when nothing).
func bgLiveState(s *cluster.Snapshot, active string, replicas int) string {
	svc := s.Service(bgService)
	if svc == nil || svc.Spec.Selector[manifests.LabelColour] != active {
		return "Service does not select " + active
	}
	pods := map[string]bool{}
	for _, p := range s.Pods {
		if p.Labels[manifests.LabelApp] == bgService && p.DeletionTimestamp == nil {
			if p.Labels[manifests.LabelColour] != active {
				return "pod " + p.Name + " of the other colour remains"
			}
			pods[p.Name] = true
		}
	}
	ready := 0
	for _, es := range s.EndpointSlicesOf(bgService) {
		for _, ep := range es.Endpoints {
			if ep.TargetRef == nil || !pods[ep.TargetRef.Name] {
				return "an endpoint is not an " + active + " pod"
			}
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				ready++
			}
		}
	}
	if ready != replicas || len(pods) != replicas {
		return "endpoints/pods not ready yet"
	}
	if d := s.Deployment("reference-data-" + traderx.OtherColour(active)); d == nil || d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		return "the other colour is not scaled to zero"
	}
	return ""
}

// sampleHealth runs health.Run on reference-data until stop is called and
// returns the verdicts seen.
func sampleHealth(ctx context.Context, c kubernetes.Interface) (stop func() []string) {
	dev, _ := traderx.LookupEnvironment("dev")
	done := make(chan struct{})
	var mu sync.Mutex
	var samples []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			rep, err := health.Run(ctx, c, dev, health.Options{Services: []string{bgService}})
			mu.Lock()
			if err != nil {
				samples = append(samples, "error: "+err.Error())
			} else {
				s := string(rep.Verdict)
				if rep.Verdict != check.VerdictHealthy {
					s += ": " + rep.Reason
				}
				samples = append(samples, s)
			}
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(150 * time.Millisecond):
			}
		}
	})
	return func() []string {
		close(done)
		wg.Wait()
		return samples
	}
}

func unitObject(t *testing.T, h *harness, slug, kind string) map[string]any {
	t.Helper()
	objs, err := manifests.Decode(h.units("traderx-dev")[slug].Data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == kind {
			return o.Object
		}
	}
	t.Fatalf("%s has no %s", slug, kind)
	return nil
}

func bgArgs(version string, extra ...string) []string {
	return append([]string{"blue-green", bgService, version, "dev", "--soak", "3s", "--soak-interval", "1s", "--standby", "2s",
		"--settle", "1s", "--timeout", "90s", "--retry-delay", "50ms"}, extra...)
}

// A switch moves every change through ConfigHub units: the Service selects
// green with ready green endpoints, blue is at zero after the standby, a
// release is recorded, health stays HEALTHY throughout. A second run flips
// back to blue; the same version again changes nothing.
func TestBlueGreenSwitchOnControlPlane(t *testing.T) {
	h, ro := bgSetup(t)
	before := h.units("traderx-dev")
	stop := sampleHealth(h.ctx, ro)
	r := h.run("", bgArgs("1.2.3")...)
	samples := stop()
	if r.code != 0 || !strings.Contains(r.stdout, "dev: reference-data serves 1.2.3 from green (1 replicas); blue is at zero; release 1 recorded") {
		t.Fatalf("blue-green: %s", r)
	}
	for _, want := range []string{"phase 1/6 deploy: green gets ghcr.io/finos/traderx/reference-data:1.2.3 with 1 replica(s)",
		"phase 2/6 validate", "phase 3/6 switch: Service reference-data selects green", "1 ready endpoint(s), all green pods",
		"phase 4/6 soak: watching green for 3s", "soak passed", "recorded release 1", "phase 6/6 standby", "decommission: scaling blue to zero"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if first := strings.SplitN(r.stderr, "\n", 2)[0]; !strings.HasPrefix(first, "[20") || !strings.Contains(first, "] INFO: ") {
		t.Errorf("console line format: %q", first)
	}
	// Health never went UNHEALTHY while traffic moved.
	if len(samples) < 5 {
		t.Errorf("only %d health samples", len(samples))
	}
	for _, s := range samples {
		if !strings.HasPrefix(s, string(check.VerdictHealthy)) && !strings.HasPrefix(s, string(check.VerdictDegraded)) {
			t.Errorf("health sample during the switch: %s", s)
		}
	}
	// Every change is a new head revision of a unit, applied.
	after := h.units("traderx-dev")
	for _, slug := range bgUnits {
		if after[slug].HeadRevisionNum <= before[slug].HeadRevisionNum || after[slug].LiveRevisionNum != after[slug].HeadRevisionNum {
			t.Errorf("%s: head %d → %d, live %d", slug, before[slug].HeadRevisionNum, after[slug].HeadRevisionNum, after[slug].LiveRevisionNum)
		}
	}
	if sel := unitObject(t, h, "reference-data-service", "Service")["spec"].(map[string]any)["selector"].(map[string]any)["color"]; sel != "green" {
		t.Errorf("Service unit selects %v", sel)
	}
	if len(after["reference-data-service"].Annotations) != 0 {
		t.Errorf("run annotations left on the Service unit: %v", after["reference-data-service"].Annotations)
	}
	waitBG(t, h, ro, "green", 1)
	// Only the ConfigHub worker wrote the objects (besides the controllers' status).
	svc, err := testCluster.Client.CoreV1().Services("traderx-dev").Get(h.ctx, bgService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range svc.ManagedFields {
		if mf.Manager != confighubtest.DefaultFieldManager && mf.Subresource != "status" {
			t.Errorf("Service field manager %s (%s): something besides ConfigHub changed it", mf.Manager, mf.Operation)
		}
	}
	rel := h.releaseTag("traderx-dev", "release-1")
	if rel.Annotations["description"] != "blue-green reference-data 1.2.3: blue → green" {
		t.Errorf("release description %q", rel.Annotations["description"])
	}
	// The cluster client of the command refuses writes.
	// No mapping file, no environment: the kubeconfig's current context.
	g := &globals{env: Env{Getenv: func(string) string { return "" }, HomeDir: t.TempDir()}.withDefaults(), kube: newKubeFlags()}
	*g.kube.KubeConfig = testCluster.Kubeconfig
	dev, _ := traderx.LookupEnvironment("dev")
	client, err := g.cluster(h.ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Services("traderx-dev").Delete(h.ctx, bgService, metav1.DeleteOptions{}); !errors.Is(err, cluster.ErrWriteRefused) {
		t.Errorf("write through the blue-green cluster client: %v", err)
	}

	r = h.run("", "blue-green", "status", bgService, "dev")
	for _, want := range []string{"active green, standby blue", "green   active   1.2.3", "blue    standby  latest", "Service reference-data selects green, 1 ready endpoint(s)"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q: %s", want, r)
		}
	}

	// A second switch flips back to blue.
	r = h.run("", bgArgs("1.2.4")...)
	if r.code != 0 || !strings.Contains(r.stdout, "serves 1.2.4 from blue") || !strings.Contains(r.stdout, "green is at zero; release 2 recorded") {
		t.Fatalf("second blue-green: %s", r)
	}
	waitBG(t, h, ro, "blue", 1)
	// The same version again is a no-op.
	mut := h.mutations()
	r = h.run("", bgArgs("1.2.4")...)
	if r.code != 0 || !strings.Contains(r.stdout, "already serves 1.2.4 from blue; nothing changed") || h.mutations() != mut {
		t.Errorf("same version again: %s (%d mutations)", r, h.mutations()-mut)
	}
}

// A new version that crash-loops during the soak is rolled back: the Service
// selects blue again with ready blue endpoints, green is at zero, exit 1,
// and the log says why.
func TestBlueGreenSoakFailureRollsBackOnControlPlane(t *testing.T) {
	h, ro := bgSetup(t)
	r := h.run("", bgArgs("9.9.9", "--settle", "0s", "--soak", "30s", "--pod-label", testcluster.SimulationLabel+"="+testcluster.SimCrashLoop)...)
	if r.code != 1 {
		t.Fatalf("want exit 1: %s", r)
	}
	for _, want := range []string{"failed in phase soak", "CrashLoopBackOff", "rolled back: Service reference-data selects blue again, green scaled to zero",
		"phase 5/6 rollback"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	waitBG(t, h, ro, "blue", 1)
	if n := unitObject(t, h, "reference-data-green-deployment", "Deployment")["spec"].(map[string]any)["replicas"]; n != int64(0) && n != 0 && n != float64(0) {
		t.Errorf("green unit replicas = %v", n)
	}
	if tags := h.tags("traderx-dev"); len(tags) != 0 {
		t.Errorf("a rolled-back run recorded a release: %v", tags)
	}
	logs := h.logFiles()
	var log string
	for _, l := range logs {
		if strings.Contains(l, "blue-green") {
			log = readFile(t, l)
		}
	}
	if !strings.Contains(log, `"action":"blue-green"`) || !strings.Contains(log, `"result":"failed"`) || !strings.Contains(log, "CrashLoopBackOff") {
		t.Errorf("the audit log does not say why:\n%s", log)
	}
	if a := h.units("traderx-dev")["reference-data-service"].Annotations; len(a) != 0 {
		t.Errorf("run annotations left after the rollback: %v", a)
	}
}

// A run interrupted between phases leaves a consistent, recorded state:
// abort puts the Service back on blue; a run interrupted in the soak is
// resumed by re-running the same command.
func TestBlueGreenInterruptedOnControlPlane(t *testing.T) {
	h, ro := bgSetup(t)
	dev, _ := traderx.LookupEnvironment("dev")
	svc, _ := traderx.LookupService(bgService)
	interrupt := func(marker string) error {
		ctx, cancel := context.WithCancel(h.ctx)
		defer cancel()
		r := &rollout.Rollout{Hub: h.client, Log: slog.New(cancelOn{cancel: cancel, marker: marker})}
		_, err := r.BlueGreen(ctx, h.space("traderx-dev"), dev, rollout.BlueGreenOptions{Service: svc, Version: "2.0.0", Cluster: SnapshotReader{Client: ro},
			Settle: time.Second, Soak: time.Minute, SoakInterval: time.Second, PollInterval: 300 * time.Millisecond, RetryDelay: 50 * time.Millisecond})
		return err
	}
	if err := interrupt("phase 3/6 switch"); err == nil || !strings.Contains(err.Error(), "interrupted in phase switch") {
		t.Fatalf("want an interruption before the switch, got %v", err)
	}
	r := h.run("", "blue-green", "status", bgService, "dev")
	if r.code != 0 || !strings.Contains(r.stdout, "unfinished run: to 2.0.0 from blue, phase switch") {
		t.Errorf("status of an interrupted run: %s", r)
	}
	r = h.run("", bgArgs("3.0.0")...)
	if r.code != 2 || !strings.Contains(r.stderr, "resume it with `cub traderx blue-green "+bgService+" 2.0.0 dev`") {

		t.Errorf("another version during an unfinished run: %s", r)
	}
	r = h.run("", "blue-green", "abort", bgService, "dev", "--retry-delay", "50ms")
	if r.code != 0 || !strings.Contains(r.stdout, "reference-data serves from blue, green is at zero (blue served before the unfinished run to 2.0.0)") {
		t.Fatalf("abort: %s", r)
	}
	waitBG(t, h, ro, "blue", 1)

	if err := interrupt("phase 4/6 soak"); err == nil {
		t.Fatal("want an interruption in the soak")
	}
	s, err := cluster.Take(h.ctx, ro, "traderx-dev")
	if err != nil {
		t.Fatal(err)
	}
	if sel := s.Service(bgService).Spec.Selector["color"]; sel != "green" {
		t.Errorf("interrupted in the soak, the Service selects %s", sel)
	}
	r = h.run("", bgArgs("2.0.0")...)
	if r.code != 0 || !strings.Contains(r.stderr, "resuming the unfinished run to 2.0.0 (blue → green) at phase soak") ||
		!strings.Contains(r.stdout, "serves 2.0.0 from green") {
		t.Fatalf("resume: %s", r)
	}
	waitBG(t, h, ro, "green", 1)
}

// Only blue-green services are eligible (exit 2, naming them); production
// needs --yes without a terminal; a dry run prints the diffs and changes
// nothing.
func TestBlueGreenInputAndDryRun(t *testing.T) {
	h := newHarness(t, false)
	r := h.run("", "blue-green", "account-service", "1.0.0", "dev")
	if r.code != 2 || !strings.Contains(r.stderr, "blue-green works for reference-data, position-service, trade-service") {
		t.Errorf("ineligible service: %s", r)
	}
	if r := h.run("", "install"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	r = h.run("", "blue-green", "trade-service", "1.0.0", "prod")
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Errorf("prod without --yes: %s", r)
	}
	mut := h.mutations()
	r = h.run("", "blue-green", "trade-service", "1.0.0", "prod", "--dry-run")
	if r.code != 0 || h.mutations() != mut {
		t.Fatalf("dry run: %s (%d mutations)", r, h.mutations()-mut)
	}
	golden(t, "bluegreen.dry-run.golden", r.stdout)
	if slices.ContainsFunc(h.tags("traderx-prod"), func(s string) bool { return true }) {
		t.Errorf("dry run recorded a release")
	}
}

// cancelOn cancels a run when a log message contains marker: an
// interruption between phases, as Ctrl-C would cause.
type cancelOn struct {
	cancel context.CancelFunc
	marker string
}

func (h cancelOn) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelOn) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.marker) {
		h.cancel()
	}
	return nil
}
func (h cancelOn) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelOn) WithGroup(string) slog.Handler      { return h }
