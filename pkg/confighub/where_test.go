package confighub

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestWhereBuilder(t *testing.T) {
	id := uuid.MustParse("8c1e0000-0000-4000-8000-000000000001")
	cases := []struct {
		name string
		b    *WhereBuilder
		want string
	}{
		{"eq", Where().Eq("Slug", "trade-service-deployment"), "Slug = 'trade-service-deployment'"},
		{"labels and", Where().Eq("Labels.layer", "backend").Eq("Labels.order", "3"), "Labels.layer = 'backend' AND Labels.order = '3'"},
		{"in", Where().In("Slug", "namespace", "database-deployment"), "Slug IN ('namespace', 'database-deployment')"},
		{"in strings", Where().InStrings("Slug", []string{"a"}), "Slug IN ('a')"},
		{"raw", Where().Raw("HeadRevisionNum > LiveRevisionNum"), "HeadRevisionNum > LiveRevisionNum"},
		{"uuid and int", Where().Eq("UpstreamUnitID", id).Lt("UpstreamRevisionNum", int64(4)).Eq("LiveRevisionNum", 0),
			"UpstreamUnitID = '8c1e0000-0000-4000-8000-000000000001' AND UpstreamRevisionNum < 4 AND LiveRevisionNum = 0"},
		{"like ne ge le gt", Where().Like("Slug", "%-deployment").Ne("Labels.layer", "data").Ge("HeadRevisionNum", 1).Le("HeadRevisionNum", 9).Gt("Version", 0),
			"Slug LIKE '%-deployment' AND Labels.layer != 'data' AND HeadRevisionNum >= 1 AND HeadRevisionNum <= 9 AND Version > 0"},
		{"bool", Where().Eq("X", true), "X = true"},
		{"empty", Where(), ""},
	}
	for _, tc := range cases {
		got, err := tc.b.Build()
		if err != nil || got != tc.want || tc.b.String() != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestWhereRefusesUnescapable(t *testing.T) {
	bad := []*WhereBuilder{
		Where().Eq("Slug", "it's"),
		Where().Eq("Slug", `back\slash`),
		Where().In("Slug", "ok", "no'pe"),
		Where().In("Slug"),
		Where().Raw("Slug = 'x"),
		Where().Raw(`Slug = 'a\'`),
		Where().Eq("Bad Attr", "x"),
		Where().Eq("Slug", 1.5),
		Where().Eq("Slug", "ok").Eq("Other", "b'ad").Eq("Third", "fine"),
	}
	for i, b := range bad {
		if _, err := b.Build(); err == nil {
			t.Errorf("case %d: Build accepted", i)
		}
		s := b.String()
		if !strings.HasPrefix(s, invalidWherePrefix) || validateWhere(s) == nil {
			t.Errorf("case %d: String()=%q is not marked invalid", i, s)
		}
	}
	if validateWhere("Slug = 'a'") != nil || validateWhere("Slug = 'a") == nil || validateWhere(`Slug = 'a\b'`) == nil {
		t.Error("validateWhere")
	}
}

func TestNullableReferences(t *testing.T) {
	for _, in := range []string{
		`{"Slug":"a","TargetID":null,"UpstreamUnitID":null}`,
		`{"Slug":"a","TargetID":"00000000-0000-0000-0000-000000000000","UpstreamUnitID":"00000000-0000-0000-0000-000000000000"}`,
		`{"Slug":"a"}`,
	} {
		var u Unit
		if err := json.Unmarshal([]byte(in), &u); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if u.TargetID != uuid.Nil || u.IsClone() {
			t.Errorf("%s: %+v", in, u)
		}
		out, _ := json.Marshal(Unit{Slug: "a"})
		if strings.Contains(string(out), "TargetID") || strings.Contains(string(out), "UpstreamUnitID") {
			t.Errorf("unset references are sent: %s", out)
		}
	}
}
