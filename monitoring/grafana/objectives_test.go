package grafana

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/finos/traderx-plugins/monitoring/slo"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

func panelsByTitle(t *testing.T) map[string]dashboard.Panel {
	t.Helper()
	d, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dashboard.Panel{}
	for _, p := range d.Panels {
		if p.Panel != nil {
			out[*p.Panel.Title] = *p.Panel
		}
	}
	return out
}

func thresholdValues(p dashboard.Panel) []float64 {
	var out []float64
	if p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
		return nil
	}
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value != nil {
			out = append(out, *s.Value)
		}
	}
	return out
}

// Each tier has its budget, availability and burn-rate panels; the
// availability panel draws the tier's objective, the burn-rate panel the
// sustainable rate and the page rate.
func TestObjectivePanels(t *testing.T) {
	panels := panelsByTitle(t)
	want := map[traderx.SLOTier]float64{traderx.SLOCritical: 0.9995, traderx.SLOHigh: 0.999, traderx.SLOMedium: 0.995}
	for tier, objective := range want {
		for title, thresholds := range map[string][]float64{
			string(tier) + ": error budget remaining (30 days)":                                        {0, 0.25},
			string(tier) + ": availability over 30 days (objective " + tier.ObjectivePercent() + " %)": {objective},
			string(tier) + ": burn rate (1 hour)":                                                      {1, 14.4},
		} {
			p, ok := panels[title]
			if !ok {
				t.Errorf("panel %q missing", title)
				continue
			}
			if got := thresholdValues(p); !slices.Equal(got, thresholds) {
				t.Errorf("%s: thresholds %v, want %v", title, got, thresholds)
			}
			for _, q := range Queries(dashboard.Dashboard{Panels: []dashboard.PanelOrRowPanel{{Panel: &p}}}) {
				if !strings.Contains(q.Expr, `tier="`+string(tier)+`"`) {
					t.Errorf("%s: query does not select tier %s: %s", title, tier, q.Expr)
				}
			}
		}
	}
	for _, s := range traderx.Services() {
		title := s.Name + ": probe P95 (1 hour) vs " + s.SLO.LatencyP95.String() + " target"
		p, ok := panels[title]
		if ok != s.SLO.LatencyProbed {
			t.Errorf("%s: latency panel present %v, want %v", s.Name, ok, s.SLO.LatencyProbed)
		}
		if ok && !slices.Equal(thresholdValues(p), []float64{s.SLO.LatencyP95.Seconds()}) {
			t.Errorf("%s: thresholds %v, want the P95 target", title, thresholdValues(p))
		}
	}
	if p, ok := panels["Latency targets without a measurement"]; !ok || p.Options == nil {
		t.Error("no panel says which latency targets cannot be measured")
	}
}

var recordName = regexp.MustCompile(`\bslo:[a-z0-9_]+:[a-z0-9_]+`)

// The dashboard reads only series the generated rules record.
func TestObjectiveQueriesReadRecordedSeries(t *testing.T) {
	rules, err := slo.Rules()
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, q := range queries(t) {
		for _, name := range recordName.FindAllString(q.Expr, -1) {
			used++
			if !strings.Contains(string(rules), "- record: "+name+"\n") {
				t.Errorf("%s reads %s, which no rule records", q.Where, name)
			}
		}
	}
	if used == 0 {
		t.Error("no query reads a recorded SLO series")
	}
}
