package cub

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

func diffJSON(t *testing.T, r result) rollout.EnvDiff {
	t.Helper()
	var d rollout.EnvDiff
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r)
	}
	return d
}

func changedFields(d rollout.EnvDiff) map[string][]string {
	out := map[string][]string{}
	for _, u := range d.Units {
		for _, c := range u.Changes {
			out[u.Unit] = append(out[u.Unit], c.Field)
		}
	}
	return out
}

// Freshly installed environments differ only as the model says; a change in
// one shows, in colour when asked; diff never writes.
func TestDiffEnvironmentsStandIn(t *testing.T) {
	h := installedApplied(t, "dev,staging,prod")
	before, mut := h.revisions(), h.mutations()
	for _, pair := range [][2]string{{"dev", "staging"}, {"staging", "prod"}, {"dev", "prod"}} {
		r := h.day2(nil, "", "diff", pair[0], pair[1])
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, pair[0]+" → "+pair[1]+": no differences in 24 units; ") ||
			!strings.Contains(r.stderr, "fields that the model sets differently") {
			t.Errorf("%v: %s", pair, r)
		}
	}
	if r := h.day2(nil, "", "diff", "dev", "--live"); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "all 24 units are live") {
		t.Errorf("dev --live: %s", r)
	}
	for _, bad := range [][]string{{"diff", "dev"}, {"diff", "dev", "dev"}, {"diff", "dev", "qa"}, {"diff", "dev", "staging", "nope"},
		{"diff", "dev", "staging", "--live"}, {"diff", "dev", "staging", "people-service", "x"}, {"diff", "dev", "staging", "-o", "yaml"}} {
		if r := h.day2(nil, "", bad...); r.code != 2 {
			t.Errorf("%v: want exit 2: %s", bad, r)
		}
	}
	h.unchanged("diff", before, mut)

	// staging scaled by hand departs from the model: shown, with the image change in dev.
	if r := h.day2(nil, "", "set-image", "dev", "people-service", "1.2"); r.code != 0 {
		t.Fatalf("set-image: %s", r)
	}
	if r := h.day2(nil, "", "scale", "staging", "people-service", "5"); r.code != 0 {
		t.Fatalf("scale: %s", r)
	}
	before, mut = h.revisions(), h.mutations()
	r := h.day2(nil, "", "diff", "dev", "staging", "people-service", "--color", "always")
	if r.code != 0 || !strings.Contains(r.stdout, "--- dev/people-service-deployment") || !strings.Contains(r.stdout, "\x1b[32m+  replicas: 5") ||
		!strings.Contains(r.stdout, "\x1b[31m-        image: ghcr.io/finos/traderx/people-service:1.2") || strings.Contains(r.stdout, "traderx-dev") {
		t.Errorf("coloured diff: %s", r)
	}
	r = h.day2(nil, "", "diff", "dev", "staging", "-o", "json", "--exit-code")
	if r.code != 1 {
		t.Errorf("--exit-code with differences: %s", r)
	}
	got := changedFields(diffJSON(t, r))
	want := map[string][]string{"people-service-deployment": {
		"metadata.labels.app.kubernetes.io/version", "spec.replicas", "spec.template.metadata.labels.app.kubernetes.io/version",
		"spec.template.spec.containers[0].image"}}
	if len(got) != 1 || !slices.Equal(got["people-service-deployment"], want["people-service-deployment"]) {
		t.Errorf("changed fields = %v, want %v", got, want)
	}
	h.unchanged("diff", before, mut)
}

// On the real control plane: a change made in dev and promoted to staging
// (ConfigHub upgrade) but not applied there shows in `diff staging --live`
// and nowhere in `diff dev staging`, whose per-environment differences are
// ignored; live state with the cluster's defaults is not a difference.
func TestDiffPromotedChangeOnControlPlane(t *testing.T) {
	h := newHarness(t, true)
	if r := h.run("", "install", "--envs", "dev,staging"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	for _, env := range []string{"dev", "staging"} {
		if r := h.run("", "apply", env); r.code != 0 {
			t.Fatalf("apply %s: %s", env, r)
		}
	}
	r := h.day2(nil, "", "diff", "staging", "--live")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("staging --live right after apply: %s", r)
	}
	if r := h.day2(nil, "", "set-image", "dev", "people-service", "1.2.3"); r.code != 0 {
		t.Fatalf("set-image dev: %s", r)
	}
	r = h.day2(nil, "", "diff", "dev", "staging", "-o", "json")
	if fields := changedFields(diffJSON(t, r)); !slices.Contains(fields["people-service-deployment"], "spec.template.spec.containers[0].image") || len(fields) != 1 {
		t.Errorf("dev vs staging before the promotion: %v", fields)
	}

	// Promote the unit: upgrade staging's clone from dev, without applying.
	sp := h.space("traderx-staging")
	u := h.units("traderx-staging")["people-service-deployment"]
	if _, err := h.client.PatchUnit(h.ctx, sp.SpaceID, u.UnitID, nil, confighub.UnitUpdateParams{Upgrade: true}); err != nil {
		t.Fatal(err)
	}
	before, mut := h.revisions(), h.mutations()
	r = h.day2(nil, "", "diff", "staging", "--live", "-o", "json")
	d := diffJSON(t, r)
	fields := changedFields(d)
	if len(d.Units) != 1 || d.Units[0].Unit != "people-service-deployment" || !slices.Contains(fields["people-service-deployment"], "spec.template.spec.containers[0].image") {
		t.Fatalf("staging --live: %v\n%s", fields, r)
	}
	for _, c := range d.Units[0].Changes {
		if c.Field == "spec.template.spec.containers[0].image" && (c.From != "ghcr.io/finos/traderx/people-service:latest" || c.To != "ghcr.io/finos/traderx/people-service:1.2.3") {
			t.Errorf("image change %v → %v", c.From, c.To)
		}
		if strings.Contains(c.Field, "replicas") || strings.Contains(c.Field, "resources") || strings.Contains(c.Field, "namespace") {
			t.Errorf("staging's own override in the promoted change: %s", c.Field)
		}
	}
	r = h.day2(nil, "", "diff", "staging", "--live")
	if !strings.Contains(r.stdout, "--- staging/people-service-deployment (live, revision 2)") || !strings.Contains(r.stdout, "+        image: ghcr.io/finos/traderx/people-service:1.2.3") ||
		!strings.Contains(r.stderr, "1 of 24 units have head changes that are not live") {
		t.Errorf("staging --live text: %s", r)
	}
	r = h.day2(nil, "", "diff", "dev", "staging")
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "dev → staging: no differences in 24 units") {
		t.Errorf("dev vs staging after the promotion: %s", r)
	}
	h.unchanged("diff", before, mut)
}
