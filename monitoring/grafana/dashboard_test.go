package grafana

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

func TestCommittedJSONIsGenerated(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(FileName)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from the dashboard built in Go: run `go run ./monitoring/gen`", FileName)
	}
}

// strictCheck runs the SDK's strict decoder, which rejects unknown fields and
// wrong types in the dashboard, its panels and their options. Two quirks of
// v0.0.22: it returns a typed-nil cog.BuildErrors on success (so an empty
// BuildErrors is success), and because nested decoders return that typed nil
// too, the decoded value loses its panels. It is therefore used only for its
// errors; the round trip decodes with the regular decoder.
func strictCheck(raw []byte) error {
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	return buildErr(d.UnmarshalJSONStrict(raw))
}

func buildErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

func decode(t *testing.T, raw []byte) dashboard.Dashboard {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return d
}

func TestStrictRoundTrip(t *testing.T) {
	raw, err := os.ReadFile(FileName)
	if err != nil {
		t.Fatal(err)
	}
	if err := strictCheck(raw); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	d := decode(t, raw)
	if err := buildErr(d.Validate()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	again, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &b); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("dashboard changes when decoded and encoded again")
	}
	if got, want := len(Queries(d)), len(queries(t)); got != want {
		t.Fatalf("decoded dashboard has %d queries, built one %d", got, want)
	}
}

// The strict decoder must reject what the round trip relies on it to reject,
// at the dashboard, panel and panel-options levels.
func TestStrictCheckRejectsUnknownFields(t *testing.T) {
	raw, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"dashboard field": {`"refresh": "30s"`, `"refresh": "30s", "refersh": "1m"`},
		"panel field":     {`"title": "Request rate"`, `"title": "Request rate", "tilte": "x"`},
		"panel option":    {`"showHeader"`, `"showHeadr": true, "showHeader"`},
		"wrong type":      {`"refresh": "30s"`, `"refresh": 30`},
	} {
		if !strings.Contains(string(raw), edit[0]) {
			t.Fatalf("%s: %q not in the dashboard", name, edit[0])
		}
		bad := strings.Replace(string(raw), edit[0], edit[1], 1)
		if err := strictCheck([]byte(bad)); err == nil {
			t.Errorf("strict decode accepted an unknown %s", name)
		}
	}
}

func queries(t *testing.T) []Query {
	t.Helper()
	d, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	return Queries(d)
}

func TestDashboardSettings(t *testing.T) {
	d, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	if d.Refresh == nil || *d.Refresh != "30s" {
		t.Errorf("refresh %v, want 30s", d.Refresh)
	}
	if d.Time == nil || d.Time.From != "now-1h" || d.Time.To != "now" {
		t.Errorf("time %+v, want last 1h", d.Time)
	}
	if len(d.Annotations.List) == 0 || !strings.Contains(*d.Annotations.List[len(d.Annotations.List)-1].Expr, "ALERTS{") {
		t.Error("no alert annotations")
	}
	ids := map[uint32]bool{}
	var titles []string
	for _, p := range d.Panels {
		var id uint32
		switch {
		case p.Panel != nil:
			id = *p.Panel.Id
			titles = append(titles, *p.Panel.Title)
		case p.RowPanel != nil:
			id = p.RowPanel.Id
		}
		if id == 0 || ids[id] {
			t.Errorf("panel id %d missing or repeated", id)
		}
		ids[id] = true
	}
	for _, want := range []string{
		"Service availability", "Request rate", "P95 latency", "Error rate", "Critical services: available replicas",
		"Memory (working set)", "CPU", "Container restarts (15m)", "Network I/O", "Service health",
	} {
		if !slices.Contains(titles, want) {
			t.Errorf("panel %q missing (have %v)", want, titles)
		}
	}
	for _, name := range CriticalServices {
		if _, err := traderx.LookupService(name); err != nil {
			t.Error(err)
		}
	}
}

func TestVariables(t *testing.T) {
	d, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]dashboard.VariableModel{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	for _, name := range []string{VarDatasource, VarEnvironment, VarService} {
		if _, ok := vars[name]; !ok {
			t.Errorf("template variable %q missing", name)
		}
	}
	svc := vars[VarService]
	if svc.Query == nil || svc.Query.String == nil || *svc.Query.String != strings.Join(traderx.ServiceNames(), ",") {
		t.Errorf("service variable does not list the model's services: %+v", svc.Query)
	}
	if svc.IncludeAll == nil || !*svc.IncludeAll || svc.AllValue == nil || *svc.AllValue != ".*" {
		t.Error("service variable needs All = .* (queries use it in regex matchers)")
	}
}

func TestEveryQueryUsesTheVariables(t *testing.T) {
	qs := queries(t)
	if len(qs) < 12 {
		t.Fatalf("only %d queries", len(qs))
	}
	for _, q := range qs {
		for _, v := range []string{"$" + VarEnvironment, "$" + VarService} {
			if !strings.Contains(q.Expr, v) {
				t.Errorf("%s %s does not use %s: %s", q.Where, q.RefID, v, q.Expr)
			}
		}
	}
}
