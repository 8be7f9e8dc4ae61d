package cub

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

// breakUnit gives a Deployment unit a new image whose pods crash-loop: the
// kwok crash stage stands in for a broken release.
func (h *harness) breakUnit(space, unit, image string) {
	h.t.Helper()
	sp := h.space(space)
	u := h.units(space)[unit]
	full, err := h.client.GetUnit(h.ctx, sp.SpaceID, u.UnitID)
	if err != nil {
		h.t.Fatal(err)
	}
	objs, err := manifests.Decode(full.Unit.Data)
	if err != nil {
		h.t.Fatal(err)
	}
	labels, _, _ := unstructuredMap(objs[0].Object, "spec", "template", "metadata", "labels")
	labels[testcluster.SimulationLabel] = testcluster.SimCrashLoop
	containers, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = image
	_ = unstructured.SetNestedSlice(objs[0].Object, containers, "spec", "template", "spec", "containers")
	data, err := manifests.EncodeYAML(objs)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.client.PatchUnit(h.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": data, "LastChangeDescription": "bad release"}, confighub.UnitUpdateParams{}); err != nil {
		h.t.Fatal(err)
	}
}

func liveImage(t *testing.T, ns, deployment string) (string, map[string]string) {
	t.Helper()
	d, err := testCluster.Client.AppsV1().Deployments(ns).Get(t.Context(), deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image, d.Spec.Template.Labels
}

// A bad change in prod crash-loops trade-service; `rollback prod` restores the
// previous release in the live cluster through ConfigHub, moves head
// forward, and a plain apply afterwards does not bring the bad change back.
func TestRollbackProdOnControlPlane(t *testing.T) {
	h := newHarness(t, true)
	if r := h.run("", "install", "--envs", "dev,staging,prod"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	if r := h.run("", "apply", "prod", "--yes", "--timeout", "90s"); r.code != 0 {
		t.Fatalf("apply prod: %s", r)
	}
	goodImage, _ := liveImage(t, "traderx-prod", "trade-service-blue")

	const unit = "trade-service-blue-deployment"
	h.breakUnit("traderx-prod", unit, "ghcr.io/finos/traderx/trade-service:2.0-broken")
	if r := h.run("", "apply", "prod", "--yes", "--timeout", "20s", "--settle", "10s"); r.code != 1 || !strings.Contains(r.stderr, "CrashLoopBackOff") {
		t.Fatalf("bad apply: want exit 1 naming the crash loop: %s", r)
	}
	badHead := h.units("traderx-prod")[unit].HeadRevisionNum
	if img, _ := liveImage(t, "traderx-prod", "trade-service-blue"); img == goodImage {
		t.Fatal("the bad image never reached the cluster")
	}

	// A release that does not exist is refused and changes nothing.
	before := h.revisions()
	if r := h.run("", "rollback", "prod", "99", "--yes"); r.code != 2 || !strings.Contains(r.stderr, "prod has no release 99 (releases: 1)") {
		t.Fatalf("rollback 99: %s", r)
	}
	// The dry run says what would happen and changes nothing either.
	if r := h.run("", "rollback", "prod", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, unit) || !strings.Contains(r.stdout, "would restore") {
		t.Fatalf("dry run: %s", r)
	}
	if after := h.revisions(); !equalRevisions(before, after) {
		t.Fatal("a refused rollback or a dry run changed revisions")
	}

	r := h.run("", "rollback", "prod", "--yes", "--timeout", "90s", "--settle", "2s", "--retry-delay", "50ms")
	if r.code != 0 {
		t.Fatalf("rollback prod: %s", r)
	}
	for _, want := range []string{"Rollback of prod to release 1", unit, "restored", "Health after rollback: HEALTHY", "Recorded release 2 (rollback to release 1)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("rollback output lacks %q:\n%s", want, r.stdout)
		}
	}
	img, labels := liveImage(t, "traderx-prod", "trade-service-blue")
	if img != goodImage || labels[testcluster.SimulationLabel] != "" {
		t.Errorf("live trade-service after rollback: %s %v, want %s without the crash label", img, labels, goodImage)
	}
	u := h.units("traderx-prod")[unit]
	if u.HeadRevisionNum <= badHead || u.LiveRevisionNum != u.HeadRevisionNum {
		t.Errorf("head %d (bad head was %d), live %d: the restore must be a new live head", u.HeadRevisionNum, badHead, u.LiveRevisionNum)
	}
	if err := testcluster.WaitDeploymentsAvailable(h.ctx, testCluster.Client, "traderx-prod", time.Minute); err != nil {
		t.Fatal(err)
	}

	// A plain apply has nothing to bring back.
	if r := h.run("", "apply", "prod", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "nothing to apply") {
		t.Fatalf("apply after rollback: %s", r)
	}
	if img, _ := liveImage(t, "traderx-prod", "trade-service-blue"); img != goodImage {
		t.Errorf("apply after rollback brought %s back", img)
	}
	if r := h.run("", "history", "prod"); r.code != 0 || !strings.Contains(r.stdout, "rollback to release 1") {
		t.Errorf("history: %s", r)
	}
}

func equalRevisions(a, b map[string]int64) bool {
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
