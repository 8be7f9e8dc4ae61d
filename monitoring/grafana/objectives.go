package grafana

import (
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/text"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/finos/traderx-plugins/monitoring/slo"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// The objectives rows read the series recorded by the rules monitoring/slo
// generates, one row per tier of the model, so each panel can draw its tier's
// objective as a threshold.

// withObjectives adds a row per SLO tier and a row of latency targets.
func withObjectives(d *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
	for _, tier := range traderx.SLOTiers() {
		d = d.WithRow(dashboard.NewRowBuilder(tierTitle(tier))).
			WithPanel(budgetPanel(tier)).
			WithPanel(objectivePanel(tier)).
			WithPanel(burnRatePanel(tier))
	}
	d = d.WithRow(dashboard.NewRowBuilder("Latency targets (probe P95, a lower bound)"))
	for _, s := range traderx.Services() {
		if s.SLO.LatencyProbed {
			d = d.WithPanel(latencyPanel(s))
		}
	}
	return d.WithPanel(unmeasuredLatencyPanel())
}

func tierTitle(tier traderx.SLOTier) string {
	var names []string
	for _, s := range traderx.ServicesInSLOTier(tier) {
		names = append(names, s.Name)
	}
	return fmt.Sprintf("Objective %s: %s %% (budget %s per 30 days): %s",
		tier, tier.ObjectivePercent(), slo.Duration(tier.BudgetPerWindow()), strings.Join(names, ", "))
}

// sloSeries selects a recorded SLO series of the environment's services in a tier.
func sloSeries(record string, tier traderx.SLOTier) string {
	return fmt.Sprintf(`%s{%s, service=~"$service", tier=%q}`, record, env, tier)
}

func budgetPanel(tier traderx.SLOTier) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(fmt.Sprintf("%s: error budget remaining (30 days)", tier)).
		Description(fmt.Sprintf("Share of the 30-day error budget (%s of failed probes at %s %%) left, per service. "+
			"Below 0 the objective is missed.", slo.Duration(tier.BudgetPerWindow()), tier.ObjectivePercent())).
		Datasource(datasource()).
		Height(8).
		Span(8).
		Unit("percentunit").
		Min(-1).
		Max(1).
		Thresholds(thresholds(step(nil, "red"), step(cog.ToPtr(0.0), "orange"), step(cog.ToPtr(0.25), "green"))).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Orientation(common.VizOrientationHorizontal).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		WithTarget(query("A", sloSeries(slo.BudgetRemaining, tier), "{{service}}"))
}

// objectivePanel draws the 30-day availability against the tier's objective.
func objectivePanel(tier traderx.SLOTier) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(fmt.Sprintf("%s: availability over 30 days (objective %s %%)", tier, tier.ObjectivePercent())).
		Description("Share of successful blackbox probes over the last 30 days, per service; the line is the objective.").
		Datasource(datasource()).
		Height(8).
		Span(8).
		Unit("percentunit").
		Decimals(3).
		Max(1).
		Thresholds(thresholds(step(nil, "red"), step(cog.ToPtr(tier.Objective()), "green"))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(query("A", "1 - "+sloSeries(slo.ErrorRatio(traderx.SLOWindow), tier), "{{service}}"))
}

func burnRatePanel(tier traderx.SLOTier) *timeseries.PanelBuilder {
	page := slo.Windows()[0]
	return timeseries.NewPanelBuilder().
		Title(fmt.Sprintf("%s: burn rate (1 hour)", tier)).
		Description(fmt.Sprintf("Failed probes over the last hour divided by the error budget (%s): "+
			"1 spends the budget in exactly 30 days; %s× over 1h (and 5m) pages.",
			numberOf(tier.ErrorBudget()), numberOf(page.Factor()))).
		Datasource(datasource()).
		Height(8).
		Span(8).
		Unit("short").
		Min(0).
		Thresholds(thresholds(step(nil, "green"), step(cog.ToPtr(1.0), "orange"), step(cog.ToPtr(page.Factor()), "red"))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(query("A", sloSeries(slo.BurnRate1h, tier), "{{service}}"))
}

func latencyPanel(s traderx.Service) *timeseries.PanelBuilder {
	target := s.SLO.LatencyP95.Seconds()
	return timeseries.NewPanelBuilder().
		Title(fmt.Sprintf("%s: probe P95 (1 hour) vs %s target", s.Name, s.SLO.LatencyP95)).
		Description(fmt.Sprintf("95th percentile of the blackbox probe's duration over the last hour; the line is the seed's P95 target. "+
			"Not the server-side P95: %s.", s.SLO.LatencyNote)).
		Datasource(datasource()).
		Height(7).
		Span(6).
		Unit("s").
		Min(0).
		Thresholds(thresholds(step(nil, "green"), step(cog.ToPtr(target), "red"))).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		WithTarget(query("A", fmt.Sprintf(`%s{%s, service=~"$service", service=%q}`, slo.LatencyP95, env, s.Name), "{{service}}"))
}

// unmeasuredLatencyPanel says which latency targets no panel shows, and why.
func unmeasuredLatencyPanel() *text.PanelBuilder {
	var b strings.Builder
	b.WriteString("Latency targets the probes cannot judge (they need request metrics no v1 image emits):\n\n")
	for _, s := range traderx.Services() {
		if s.SLO.LatencyP95 > 0 && !s.SLO.LatencyProbed {
			fmt.Fprintf(&b, "- **%s** P95 < %s: %s.\n", s.Name, s.SLO.LatencyP95, s.SLO.LatencyNote)
		}
	}
	return text.NewPanelBuilder().
		Title("Latency targets without a measurement").
		Height(7).
		Span(6).
		Mode(text.TextModeMarkdown).
		Content(b.String())
}

func numberOf(f float64) string { return fmt.Sprintf("%g", f) }
