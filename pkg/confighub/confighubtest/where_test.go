package confighubtest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

func TestWhereEvaluation(t *testing.T) {
	sp := &confighub.Space{SpaceID: uuid.New(), Slug: "traderx-dev", Labels: map[string]string{"project": "abc-traderx"}}
	up := &unitRec{u: confighub.Unit{UnitID: uuid.New(), Slug: "up", HeadRevisionNum: 5}}
	tgt := uuid.New()
	rec := &unitRec{u: confighub.Unit{UnitID: uuid.New(), SpaceID: sp.SpaceID, Slug: "trade-service-deployment",
		Labels: map[string]string{"layer": "backend", "order": "3", "app.kubernetes.io/name": "trade"}, HeadRevisionNum: 4, LiveRevisionNum: 2,
		UpstreamUnitID: up.u.UnitID, UpstreamRevisionNum: 3, ToolchainType: "Kubernetes/YAML",
		ApplyGates: map[string]bool{"t/f": true}}}
	s := &Server{spaces: map[uuid.UUID]*confighub.Space{sp.SpaceID: sp}, units: map[uuid.UUID]*unitRec{up.u.UnitID: up, rec.u.UnitID: rec}}
	v := s.unitView(rec)
	cases := []struct {
		expr string
		want bool
	}{
		{"Slug = 'trade-service-deployment'", true},
		{"Slug != 'trade-service-deployment'", false},
		{"Slug IN ('namespace', 'trade-service-deployment')", true},
		{"Slug NOT IN ('namespace')", true},
		{"Slug LIKE '%-deployment'", true},
		{"Slug LIKE 'trade_service%'", true},
		{"Slug NOT LIKE '%-service'", true},
		{"Slug ILIKE 'TRADE%'", true},
		{"Slug ~ '^trade-'", true},
		{"Slug !~ '^trade-'", false},
		{"HeadRevisionNum > LiveRevisionNum", true},
		{"HeadRevisionNum <= LiveRevisionNum", false},
		{"LiveRevisionNum = 0", false},
		{"HeadRevisionNum >= 4 AND HeadRevisionNum < 5", true},
		{"Labels.layer = 'backend' AND Labels.order = '3'", true},
		{"Labels.layer != 'data'", true},
		{"Labels.missing = 'x'", false},
		{"Labels.app.kubernetes.io/name = 'trade'", true},
		{"Space.Slug = 'traderx-dev'", true},
		{"Space.Labels.project = 'abc-traderx' AND Labels.layer = 'backend'", true},
		{"UpstreamUnitID = '" + up.u.UnitID.String() + "' AND UpstreamRevisionNum < UpstreamUnit.HeadRevisionNum", true},
		{"Unit.UpstreamRevisionNum < UpstreamUnit.HeadRevisionNum", true},
		{"TargetID IS NULL", true},
		{"TargetID IS NOT NULL", false},
		{"TargetID = '" + tgt.String() + "'", false},
		{"LEN(ApplyGates) > 0", true},
		{"SpaceID = '" + sp.SpaceID.String() + "'", true},
	}
	for _, tc := range cases {
		f, err := parseWhere(tc.expr, unitSchema)
		if err != nil {
			t.Errorf("%q: parse: %v", tc.expr, err)
			continue
		}
		if got := f.match(v); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestWhereParseErrors(t *testing.T) {
	for _, expr := range []string{
		"Slug =", "Slug = 'x", "= 'x'", "Slug = 'x' OR Slug = 'y'", "Slug = 'x' and Slug = 'y'",
		"Nope = 1", "Slug IN 'x'", "Slug IN ('a' 'b')", `Slug = 'a\b'`, "LEN(ApplyGates) > 'x'", "Slug ~ '('",
		"Labels. = 'x'", "Slug = 'x' AND", "Space.Nope = 'x'", "Slug # 'x'",
	} {
		if _, err := parseWhere(expr, unitSchema); err == nil {
			t.Errorf("%q parsed", expr)
		}
	}
	rev := &confighub.Revision{RevisionNum: 7, Tags: map[string]string{"abc": ""}}
	f, err := parseWhere("Tags ? 'abc' AND RevisionNum = 7", revisionSchema)
	if err != nil || !f.match(plainView("Revision", rev)) {
		t.Errorf("revision tags: %v", err)
	}
	f, _ = parseWhere("Tags ? 'zzz'", revisionSchema)
	if f.match(plainView("Revision", rev)) {
		t.Error("Tags ? matched a missing tag")
	}
}
