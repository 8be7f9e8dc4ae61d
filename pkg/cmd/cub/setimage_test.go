package cub

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/finos/traderx-plugins/pkg/cli"
	"github.com/finos/traderx-plugins/pkg/rollout"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

// day2 runs a day-2 command like harness.run, with the gate tuned for tests
// (no settle with the fake gate, 1s with the real one; short retry delay),
// and with ctx as the command's context (for the set-image test hook).
func (h *harness) day2(ctx context.Context, stdin string, args ...string) result {
	h.t.Helper()
	return h.day2At(ctx, false, stdin, args...)
}

// day2At is day2 with stdin a terminal or not.
func (h *harness) day2At(ctx context.Context, terminal bool, stdin string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	root := NewRootCommandWith(streams, h.cmdEnv(terminal))
	if ctx != nil {
		root.SetContext(ctx) // else cobra's context.Background()
	}
	code := cli.Execute(root, h.args(args, args[0] != "diff"), streams.ErrOut)
	return result{code, out.String(), errOut.String()}
}

// unchanged fails the test when a run changed any revision or sent a
// mutating request.
func (h *harness) unchanged(what string, before map[string]int64, mutations int) {
	h.t.Helper()
	if after := h.revisions(); !mapsEqual(before, after) {
		h.t.Errorf("%s changed revisions", what)
	}
	if m := h.mutations(); m != mutations {
		h.t.Errorf("%s sent %d mutating requests, want 0", what, m-mutations)
	}
}

// installedApplied returns a stand-in harness (fake HEALTHY gate) with the
// environments installed and dev applied.
func installedApplied(t *testing.T, envs string) *harness {
	t.Helper()
	h := newHarness(t, false)
	if r := h.run("", "install", "--envs", envs); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	if r := h.run("", "apply", "dev"); r.code != 0 {
		t.Fatalf("apply dev: %s", r)
	}
	return h
}

func TestSetImageStandIn(t *testing.T) {
	h := installedApplied(t, "dev")
	before, mut := h.revisions(), h.mutations()

	r := h.day2(nil, "", "set-image", "dev", "people-service", "1.2", "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run: %s", r)
	}
	golden(t, "set-image.dry-run.golden", r.stdout)
	h.unchanged("set-image --dry-run", before, mut)

	// Blue-green services: refused, pointing to blue-green; --all-colours changes both colours.
	r = h.day2(nil, "", "set-image", "dev", "trade-service", "1.2")
	if r.code != 2 || !strings.Contains(r.stderr, "`cub traderx blue-green trade-service <version> dev`") ||
		!strings.Contains(r.stderr, "`cub traderx set-image dev trade-service <tag> --all-colours`") {

		t.Fatalf("blue-green: %s", r)
	}
	r = h.day2(nil, "", "set-image", "dev", "trade-service", "1.2", "--all-colours", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "trade-service-blue-deployment, trade-service-green-deployment") {
		t.Fatalf("--all-colours dry run: %s", r)
	}
	for _, bad := range [][]string{{"set-image", "dev", "people-service", "a/b"}, {"set-image", "qa", "people-service", "1"},
		{"set-image", "dev", "nope", "1"}, {"set-image", "dev", "people-service"}} {
		if r := h.day2(nil, "", bad...); r.code != 2 {
			t.Errorf("%v: want exit 2: %s", bad, r)
		}
	}
	h.unchanged("refused set-images", before, mut)

	r = h.day2(nil, "", "set-image", "dev", "people-service", "1.2", "--change-desc", "CVE-2026-1")
	if r.code != 0 {
		t.Fatalf("set-image: %s", r)
	}
	golden(t, "set-image.applied.golden", r.stdout)
	u := h.units("traderx-dev")["people-service-deployment"]
	// The description carries the run's stamp (rollout.Stamp) after the operation's own text.
	if desc, st := rollout.ParseStamp(u.LastChangeDescription); u.LiveRevisionNum != 3 || !strings.Contains(string(u.Data), "image: ghcr.io/finos/traderx/people-service:1.2") ||
		desc != "set-image people-service 1.2: CVE-2026-1" || st.RunID == "" {
		t.Errorf("unit: live %d, %q\n%s", u.LiveRevisionNum, u.LastChangeDescription, u.Data)
	}
	if d := h.releaseTag("traderx-dev", "release-2").Annotations["description"]; d != "set-image people-service 1.2: CVE-2026-1" {
		t.Errorf("release description %q", d)
	}
	// The audit log has the change.
	var audit string
	for _, l := range h.logFiles() {
		audit += readFile(t, l)
	}
	if !strings.Contains(audit, `"action":"set-image"`) {
		t.Errorf("no set-image audit record")
	}
}

// Protected environments: every mutating command needs --yes or a terminal;
// without one it exits 2 and changes nothing.
func TestDay2ProtectedNeedsConfirmation(t *testing.T) {
	h := newHarness(t, false)
	if r := h.run("", "install"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	before, mut := h.revisions(), h.mutations()
	for _, args := range [][]string{
		{"set-image", "prod", "people-service", "1.2"},
		{"scale", "prod", "people-service", "4"},
		{"set-env", "prod", "people-service", "LOG_LEVEL=debug"},
		{"restart", "prod", "people-service"},
	} {
		r := h.day2(nil, "y\n", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "protected environment: confirmation needed, but stdin is not a terminal; pass --yes") {
			t.Errorf("%v: %s", args, r)
		}
		// A dry run needs no confirmation and writes nothing.
		r = h.day2(nil, "", append(args, "--dry-run")...)
		if r.code != 0 || !strings.Contains(r.stdout, "dry run: prod:") {
			t.Errorf("%v --dry-run: %s", args, r)
		}
	}
	h.unchanged("unconfirmed and dry-run changes to prod", before, mut)

	// At a terminal the change is shown first, then asked for; "n" changes nothing.
	r := h.day2At(nil, true, "n\n", "scale", "prod", "people-service", "4")
	if r.code != 1 || !strings.Contains(r.stdout, "+  replicas: 4") || !strings.Contains(r.stderr, "Change protected environment prod? [y/N]") {
		t.Errorf("declined: %s", r)
	}
	h.unchanged("a declined change", before, mut)
	r = h.day2At(nil, true, "y\n", "scale", "prod", "people-service", "4")
	if r.code != 0 || h.units("traderx-prod")["people-service-deployment"].LiveRevisionNum == 0 {
		t.Errorf("confirmed: %s", r)
	}
}

// On the real control plane: set-image changes the live Deployment's image
// and nothing else; a tag that crash-loops fails the health gate with exit 1
// and the command that rolls back, which works.
func TestSetImageOnControlPlane(t *testing.T) {
	h := newHarness(t, true)
	if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	if r := h.run("", "apply", "dev"); r.code != 0 {
		t.Fatalf("apply dev: %s", r)
	}
	ctx := h.ctx
	specs := func() map[string]any {
		list, err := testCluster.Client.AppsV1().Deployments("traderx-dev").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, d := range list.Items {
			out[d.Name] = d.Spec
		}
		return out
	}
	before := specs()
	revs, mut := h.revisions(), h.mutations()
	if r := h.day2(nil, "", "set-image", "dev", "people-service", "1.2.3", "--dry-run"); r.code != 0 {
		t.Fatalf("dry run: %s", r)
	}
	h.unchanged("set-image --dry-run", revs, mut)
	if !reflect.DeepEqual(before, specs()) {
		t.Fatal("a dry run changed the cluster")
	}

	r := h.day2(nil, "", "set-image", "dev", "people-service", "1.2.3")
	if r.code != 0 {
		t.Fatalf("set-image: %s", r)
	}
	if err := testcluster.WaitDeploymentsAvailable(ctx, testCluster.Client, "traderx-dev", time.Minute); err != nil {
		t.Fatal(err)
	}
	after := specs()
	for name, spec := range after {
		if name == "people-service" {
			continue
		}
		if !reflect.DeepEqual(spec, before[name]) {
			t.Errorf("set-image people-service changed Deployment %s", name)
		}
	}
	d, err := testCluster.Client.AppsV1().Deployments("traderx-dev").Get(ctx, "people-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/finos/traderx/people-service:1.2.3" {
		t.Errorf("live image %s", img)
	}
	if tags := h.tags("traderx-dev"); !slices.Equal(tags, []string{"release-1", "release-2"}) {
		t.Errorf("tags %v", tags)
	}

	// A bad image: the control plane runs no containers, so the test maps
	// the tag "crashloop" to kwok's crash-loop simulation label (written into
	// the unit with the image; see podLabelsForTag).
	crash := context.WithValue(ctx, podLabelsForTag{}, func(tag string) map[string]string {
		if tag == testcluster.SimCrashLoop {
			return map[string]string{testcluster.SimulationLabel: testcluster.SimCrashLoop}
		}
		return nil
	})
	r = h.day2(crash, "", "set-image", "dev", "people-service", testcluster.SimCrashLoop, "--timeout", "25s", "--settle", "10s")
	if r.code != 1 {
		t.Fatalf("crash-looping set-image: want exit 1: %s", r)
	}
	for _, want := range []string{"pods-crashloop", "to roll back: cub traderx rollback dev --services people-service", "the whole environment: cub traderx rollback dev)", "people-service-deployment revision 3 → 4"} {
		if !strings.Contains(r.stderr+r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	if tags := h.tags("traderx-dev"); len(tags) != 2 {
		t.Errorf("a failed change recorded a release: %v", tags)
	}

	// The printed command rolls back.
	r = h.run("", "rollback", "dev", "--services", "people-service", "--settle", "1s", "--retry-delay", "50ms")
	if r.code != 0 {
		t.Fatalf("rollback dev: %s", r)
	}
	d, err = testCluster.Client.AppsV1().Deployments("traderx-dev").Get(ctx, "people-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/finos/traderx/people-service:1.2.3" || d.Spec.Template.Labels[testcluster.SimulationLabel] != "" {
		t.Errorf("after rollback: image %s, labels %v", img, d.Spec.Template.Labels)
	}
}
