package cub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

// install + apply dev through the stand-in, whose worker applies to the real
// control plane, reaches HEALTHY; a second install and apply change nothing;
// a release is recorded once.
func TestInstallApplyDevOnControlPlane(t *testing.T) {
	h := newHarness(t, true)
	r := h.run("", "install")
	if r.code != 0 || !strings.Contains(r.stdout, "installed dev, staging, prod of project traderx") {
		t.Fatalf("install: %s", r)
	}
	// Without a terminal: a line per space, no line per unit (that is -v).
	for _, want := range []string{"✓ space traderx-base  ", "✓ space traderx-prod  "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("install progress lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "Create unit") {
		t.Errorf("install printed per-unit lines without -v:\n%s", r.stderr)
	}
	units := h.units("traderx-dev")
	base := h.units("traderx-base")
	ns := units[manifests.NamespaceUnit]
	if ns == nil || ns.UpstreamUnitID != base[manifests.NamespaceUnit].UnitID || ns.TargetID.String() == "" {
		t.Fatalf("dev namespace unit is not a clone of base with a target: %+v", ns)
	}
	if st := h.units("traderx-staging")["trade-service-service"]; st.UpstreamUnitID != units["trade-service-service"].UnitID {
		t.Errorf("staging unit is not downstream of dev")
	}
	if !strings.Contains(string(units["trade-service-blue-deployment"].Data), "namespace: traderx-dev") {
		t.Errorf("dev unit data lacks the dev namespace:\n%s", units["trade-service-blue-deployment"].Data)
	}
	if !strings.Contains(string(h.units("traderx-prod")["trade-service-blue-deployment"].Data), "replicas: 3") {
		t.Errorf("prod overrides missing")
	}

	r = h.run("", "apply", "dev", "--change-desc", "first dev rollout")
	if r.code != 0 {
		t.Fatalf("apply dev: %s", r)
	}
	for _, want := range []string{"✓ tier 0 (namespace)  1/1  1 applied", "✓ tier 4 (web-front-end-angular)  ", "recorded release 1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// Console lines carry a timestamp and level (progress lines do not).
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "recorded release 1") && (!strings.HasPrefix(l, "[20") || !strings.Contains(l, "] INFO: ")) {
			t.Errorf("console line format: %q", l)
		}
	}

	if err := testcluster.WaitDeploymentsAvailable(h.ctx, testCluster.Client, "traderx-dev", time.Minute); err != nil {
		t.Fatal(err)
	}
	for slug, u := range h.units("traderx-dev") {
		if u.LiveRevisionNum != u.HeadRevisionNum {
			t.Errorf("%s: live %d, head %d", slug, u.LiveRevisionNum, u.HeadRevisionNum)
		}
	}
	if tags := h.tags("traderx-dev"); !slices.Equal(tags, []string{"release-1"}) {
		t.Errorf("tags = %v, want [release-1]", tags)
	}
	rel := h.releaseTag("traderx-dev", "release-1")
	if rel.Annotations["description"] != "first dev rollout" || rel.Annotations["user"] != "alice" || rel.Annotations["time"] == "" {
		t.Errorf("release labels: %v", rel.Labels)
	}
	if n := h.taggedUnits("traderx-dev", rel.TagID); n != len(h.units("traderx-dev")) {
		t.Errorf("release-1 tags %d units, want all %d", n, len(h.units("traderx-dev")))
	}

	// Second runs are no-ops.
	before, mut := h.revisions(), h.mutations()
	r = h.run("", "install")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to change") {
		t.Fatalf("second install: %s", r)
	}
	r = h.run("", "apply", "dev", "-v")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to apply") || !strings.Contains(r.stderr, "skip namespace: live at head revision 2") {
		t.Fatalf("second apply: %s", r)
	}
	if after := h.revisions(); !mapsEqual(before, after) {
		t.Errorf("revisions changed by the second runs")
	}
	if m := h.mutations(); m != mut {
		t.Errorf("second runs sent %d mutating requests, want 0", m-mut)
	}
	if tags := h.tags("traderx-dev"); len(tags) != 1 {
		t.Errorf("a no-op apply recorded a release: %v", tags)
	}

	// status shows every unit live, nothing behind.
	r = h.run("", "status", "dev")
	if r.code != 0 || !strings.Contains(r.stdout, "24 units: 0 with unapplied changes, 0 drifted, 0 behind their upstream") {
		t.Fatalf("status: %s", r)
	}

	// Drift: a change made outside ConfigHub (kubectl set env of a variable
	// the unit sets) is seen by a refresh, and apply repairs it by applying
	// head again.
	d, err := testCluster.Client.AppsV1().Deployments("traderx-dev").Get(h.ctx, "people-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := d.Spec.Template.Spec.Containers[0].Env
	if len(env) == 0 {
		t.Fatal("people-service has no env to change")
	}
	name, want := env[0].Name, env[0].Value
	env[0].Value = "changed-out-of-band"
	if _, err := testCluster.Client.AppsV1().Deployments("traderx-dev").Update(h.ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-set"}); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "status", "dev", "--refresh")
	if r.code != 0 || !strings.Contains(r.stdout, "24 units: 0 with unapplied changes, 1 drifted, 0 behind their upstream") {
		t.Fatalf("status --refresh after a kubectl set env: %s", r)
	}
	r = h.run("", "apply", "dev")
	if r.code != 0 || !strings.Contains(r.stderr, "applying people-service-deployment revision 2 again: live objects changed outside ConfigHub") {
		t.Fatalf("apply of a drifted environment: %s", r)
	}
	live, err := testCluster.Client.AppsV1().Deployments("traderx-dev").Get(h.ctx, "people-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range live.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name && e.Value != want {
			t.Errorf("apply left %s=%q, want %q", name, e.Value, want)
		}
	}

	// Every run left a log file with audit records and no token.
	logs := h.logFiles()
	if len(logs) != 7 {
		t.Errorf("log files = %d, want 7 (one per run)", len(logs))
	}
	var audits, gates int
	for _, l := range logs {
		s := readFile(t, l)
		if strings.Contains(s, h.srv.Token) {
			t.Errorf("%s contains the token", l)
		}
		// Gate verdicts are audit records too, but of no mutation: counted apart.
		gates += strings.Count(s, `"action":"health-gate"`)
		audits += strings.Count(s, `"audit":true`)
	}
	audits -= gates
	if gates == 0 {
		t.Error("no health-gate verdicts in the audit records")
	}
	// install: the base space + 96 units + 72 patches + the labels of the 3
	// environment spaces (the spaces and targets come from the workers);
	// apply: 24 applies + 1 release; the drift repair: 1 apply + 1 release.
	if want := 1 + 96 + 72 + 3 + 24 + 1 + 1 + 1; audits != want {
		t.Errorf("audit records = %d, want %d", audits, want)
	}
}

// A tier that never becomes ready stops the run with exit 1 naming the unit
// and the cause; after fixing the unit's data in ConfigHub a re-run resumes,
// skipping the earlier tiers.
func TestTierFailureStopsAndResumes(t *testing.T) {
	h := newHarness(t, true)
	if r := h.run("", "install", "--envs", "dev,staging"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	const bad = "account-service-deployment" // tier 2
	sp := h.space("traderx-staging")
	u := h.units("traderx-staging")[bad]
	good := u.Data
	objs, err := manifests.Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _, _ := unstructuredMap(objs[0].Object, "spec", "template", "metadata", "labels")
	tmpl[testcluster.SimulationLabel] = testcluster.SimCrashLoop
	data, err := manifests.EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.PatchUnit(h.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": data, "LastChangeDescription": "break it"}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}

	r := h.run("", "apply", "staging", "--timeout", "25s", "--settle", "12s", "-v")
	if r.code != 1 {
		t.Fatalf("apply with a crash-looping tier: want exit 1: %s", r)
	}
	for _, want := range []string{"stopped at tier 2", "unit " + bad + " (service account-service)", "pods-crashloop", "CrashLoopBackOff",
		"resume:  cub traderx apply staging", "error: staging: tier 2 failed at " + bad} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("failure report lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "tier 3: applying") {
		t.Errorf("tier 3 started after tier 2 failed")
	}
	if tags := h.tags("traderx-staging"); len(tags) != 0 {
		t.Errorf("a failed apply recorded a release: %v", tags)
	}
	if h.units("traderx-staging")["trade-service-service"].LiveRevisionNum != 0 {
		t.Errorf("tier 3 was applied")
	}

	// Fix the unit through ConfigHub and resume.
	if _, err := h.client.PatchUnit(h.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": good, "LastChangeDescription": "fix it"}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "apply", "staging", "--timeout", "60s", "--settle", "2s", "-v")

	if r.code != 0 {
		t.Fatalf("resume: %s", r)
	}
	for _, want := range []string{"tier 0: skip namespace: live at head", "tier 1: skip database-deployment: live at head",
		"tier 2: applying " + bad, "tier 3: applying trade-service-blue-deployment", "recorded release 1"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("resume output lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "tier 1: applying") {
		t.Errorf("resume re-applied tier 1:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "applied 7 units") {
		t.Errorf("resume summary: %s", r.stdout)
	}
}

// cub-traderx's cluster client is built only through cluster.Connect: a
// write through it is refused before it leaves the process.
func TestGateClientIsReadOnly(t *testing.T) {
	testcluster.Require(t, testCluster)
	// No mapping file, no environment: the kubeconfig's current context.
	g := &globals{env: Env{Getenv: func(string) string { return "" }, HomeDir: t.TempDir()}.withDefaults(), kube: newKubeFlags()}
	*g.kube.KubeConfig = testCluster.Kubeconfig
	ctx := context.Background()
	dev, _ := traderx.LookupEnvironment("dev")
	gate, err := g.gate(ctx, dev, true)
	if err != nil {
		t.Fatal(err)
	}
	cg, ok := gate.(*clusterGate)
	if !ok {
		t.Fatalf("gate is %T", gate)
	}
	hg, err := cg.forEnv(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hg.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("read through the gate client: %v", err)
	}
	_, err = hg.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "must-not-exist"}}, metav1.CreateOptions{})
	if !errors.Is(err, cluster.ErrWriteRefused) {
		t.Fatalf("write through the gate client: want ErrWriteRefused, got %v", err)
	}
	if _, err := testCluster.Client.CoreV1().Namespaces().Get(ctx, "must-not-exist", metav1.GetOptions{}); err == nil {
		t.Fatal("the namespace was created")
	}
}

func unstructuredMap(obj map[string]any, path ...string) (map[string]any, bool, error) {
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	return cur, true, nil
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
