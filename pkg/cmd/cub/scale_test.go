package cub

import (
	"strings"
	"testing"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

func TestScale(t *testing.T) {
	h := installedApplied(t, "dev,staging,prod")
	before, mut := h.revisions(), h.mutations()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scale", "dev", "database", "2"}, "database must run at most 1 replica: the H2 database keeps its data inside the pod"},
		{[]string{"scale", "dev", "trade-processor", "3"}, "books every trade twice"},
		{[]string{"scale", "prod", "people-service", "0", "--yes"}, "protected environment prod: pass --force"},
		{[]string{"scale", "dev", "people-service", "two"}, "whole number"},
	} {
		r := h.day2(nil, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want exit 2 and %q: %s", tc.args, tc.want, r)
		}
	}
	r := h.day2(nil, "", "scale", "dev", "people-service", "3", "--dry-run")
	if r.code != 0 {
		t.Errorf("dry run: %s", r)
	}
	golden(t, "scale.dry-run.golden", r.stdout)
	h.unchanged("refused scales and a dry run", before, mut)

	// Blue-green: the active colour, as the Service unit selects it.
	r = h.day2(nil, "", "scale", "dev", "trade-service", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "dev: scale trade-service-blue 2: trade-service-blue-deployment revision 2 → 3") {
		t.Fatalf("scale blue: %s", r)
	}
	sp := h.space("traderx-dev")
	svc := h.units("traderx-dev")["trade-service-service"]
	data := strings.Replace(string(svc.Data), "color: blue", "color: green", 1)
	if _, err := h.client.PatchUnit(h.ctx, sp.SpaceID, svc.UnitID, map[string]any{"Data": []byte(data)}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	r = h.day2(nil, "", "scale", "dev", "trade-service", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "trade-service-green-deployment revision 2 → 3") {
		t.Fatalf("scale green: %s", r)
	}
	if u := h.units("traderx-dev")["trade-service-green-deployment"]; !strings.Contains(string(u.Data), "replicas: 2") || u.LiveRevisionNum != 3 {
		t.Errorf("green unit: live %d\n%s", u.LiveRevisionNum, u.Data)
	}

	// 0 in prod with --force (and --yes).
	r = h.day2(nil, "", "scale", "prod", "people-service", "0", "--force", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "prod: scale people-service 0") {
		t.Errorf("prod 0 --force: %s", r)
	}
}
