// Package slo generates the availability objectives of the TraderX model as
// Prometheus rules: error-ratio SLIs from the blackbox probes, the 30-day error
// budget, and multi-window, multi-burn-rate alerts (Google SRE Workbook,
// "Alerting on SLOs"). prometheus/rules/slo.yml is generated from it by
// `go run ./monitoring/gen`; a test fails when the two differ.
//
// The windows, burn rates and alert expressions are the ones sloth generates
// for a 30-day period (see Windows); record names follow sloth's
// slo:sli_error:ratio_rate<window>.
package slo

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// FileName is the generated rule file, in monitoring/prometheus/rules.
const FileName = "slo.yml"

// Severities of the burn-rate alerts.
const (
	Page   = "page"
	Ticket = "ticket"
)

// Alert names: one per severity, so Alertmanager routes pages and tickets by
// name or by severity alike.
const (
	AlertPage   = "ErrorBudgetBurnPage"
	AlertTicket = "ErrorBudgetBurnTicket"
)

// Record names besides the per-window error ratios (ErrorRatio).
const (
	// BurnRate1h is the 1-hour error ratio over the error budget: 1 spends the
	// budget exactly in 30 days, 14.4 pages.
	BurnRate1h = "slo:burn_rate:ratio_rate1h"
	// PeriodBurnRate is the 30-day error ratio over the error budget.
	PeriodBurnRate = "slo:period_burn_rate:ratio"
	// BudgetRemaining is the share of the 30-day error budget left: 1 − PeriodBurnRate.
	BudgetRemaining = "slo:period_error_budget_remaining:ratio"
	// LatencyP95 is the 95th percentile of the probe's duration over 1 hour.
	LatencyP95 = "slo:probe_duration_seconds:p95_1h"
)

// RunbookURL is where the alerts' runbook_url annotations point.
const RunbookURL = "https://github.com/finos/traderx-plugins/blob/main/monitoring/runbooks.md"

// probes selects the blackbox-exporter series of TraderX environments.
const probes = `job=~"blackbox-(http|tcp)", namespace=~"traderx-.+"`

// Window is one multi-window, multi-burn-rate alert condition: it fires when
// the error ratio over both Long and Short exceeds Factor times the budget.
type Window struct {
	Severity    string
	Long, Short time.Duration
	// BudgetPercent is the share of the 30-day error budget that burning at
	// Factor for Long consumes.
	BudgetPercent float64
}

// windows are sloth's google-30d windows (internal/alert/windows/google-30d.yaml),
// which are the SRE Workbook's table "Recommended parameters for an SLO-based
// alerting configuration" with its 3d/6h ticket and a 1d/2h ticket added.
var windows = []Window{
	{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 2},
	{Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetPercent: 5},
	{Severity: Ticket, Long: 24 * time.Hour, Short: 2 * time.Hour, BudgetPercent: 10},
	{Severity: Ticket, Long: 72 * time.Hour, Short: 6 * time.Hour, BudgetPercent: 10},
}

// Windows returns the four alert conditions, fastest first.
func Windows() []Window { return slices.Clone(windows) }

// Factor is the burn rate the window alerts on, derived as sloth does:
// BudgetPercent/100 × period/Long (2 % of 30 days in 1 hour is 14.4×).
func (w Window) Factor() float64 {
	return round(w.BudgetPercent / 100 * float64(traderx.SLOWindow) / float64(w.Long))
}

// Exhaustion is how long the whole budget lasts at the window's burn rate.
func (w Window) Exhaustion() time.Duration {
	return time.Duration(float64(traderx.SLOWindow) / w.Factor()).Round(time.Minute)
}

// SLIWindows returns every window the error ratio is recorded over, shortest first.
func SLIWindows() []time.Duration {
	var out []time.Duration
	for _, w := range windows {
		out = append(out, w.Long, w.Short)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ErrorRatio returns the record name of the error ratio over a window
// (slo:sli_error:ratio_rate5m); traderx.SLOWindow gives the 30-day ratio.
func ErrorRatio(w time.Duration) string { return "slo:sli_error:ratio_rate" + Duration(w) }

// Name returns the slo label of a service's availability objective.
func Name(s traderx.Service) string { return s.Name + "-availability" }

// LatencyName returns the slo label of a service's latency target.
func LatencyName(s traderx.Service) string { return s.Name + "-latency" }

// Duration formats a duration the way Prometheus writes them: 5m, 1h, 1d, 2d2h, 21m36s.
func Duration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	return b.String()
}

// round drops float noise (14.399999999999999) from derived numbers.
func round(f float64) float64 { return math.Round(f*1e9) / 1e9 }

func number(f float64) string { return strconv.FormatFloat(round(f), 'f', -1, 64) }

type record struct{ Name, Expr string }

type alert struct {
	Name, Severity, Expr          string
	Long, Short, Factor           string
	Summary, Description, Runbook string
}

type service struct {
	Name, SLO, LatencySLO, Tier, Budget string
	Records                             []record
	Latency                             *record
	Alerts                              []alert
}

// Threshold returns the error-ratio threshold of a window for an objective,
// as it appears in the alert expressions: (14.4 * 0.0005).
func Threshold(w Window, tier traderx.SLOTier) string {
	return fmt.Sprintf("(%s * %s)", number(w.Factor()), number(tier.ErrorBudget()))
}

func model() []service {
	var out []service
	for _, s := range traderx.Services() {
		tier := s.SLO.Tier
		sel := fmt.Sprintf(`{slo=%q}`, Name(s))
		budget := number(tier.ErrorBudget())
		svc := service{
			Name: s.Name, SLO: Name(s), LatencySLO: LatencyName(s), Tier: string(tier),
			Budget: fmt.Sprintf("%s%% of 30 days: %s of failed probes (%s tier, objective %s%%)",
				number(tier.ErrorBudget()*100), Duration(tier.BudgetPerWindow()), tier, tier.ObjectivePercent()),
		}
		for _, w := range SLIWindows() {
			svc.Records = append(svc.Records, record{ErrorRatio(w),
				fmt.Sprintf(`1 - avg by (namespace) (avg_over_time(probe_success{%s, app=%q}[%s]))`, probes, s.Name, Duration(w))})
		}
		// The 30-day ratio averages the 5-minute one, as sloth does, rather
		// than reading 30 days of raw probes at every evaluation.
		svc.Records = append(svc.Records,
			record{ErrorRatio(traderx.SLOWindow), fmt.Sprintf(`avg_over_time(%s%s[%s])`, ErrorRatio(SLIWindows()[0]), sel, Duration(traderx.SLOWindow))},
			record{BurnRate1h, fmt.Sprintf(`%s%s / %s`, ErrorRatio(time.Hour), sel, budget)},
			record{PeriodBurnRate, fmt.Sprintf(`%s%s / %s`, ErrorRatio(traderx.SLOWindow), sel, budget)},
			record{BudgetRemaining, fmt.Sprintf(`1 - %s%s`, PeriodBurnRate, sel)},
		)
		if s.SLO.LatencyProbed {
			svc.Latency = &record{LatencyP95,
				fmt.Sprintf(`max by (namespace) (quantile_over_time(0.95, probe_duration_seconds{%s, app=%q}[1h]))`, probes, s.Name)}
		}
		for _, w := range windows {
			thr := Threshold(w, tier)
			name, anchor := AlertPage, strings.ToLower(AlertPage)
			if w.Severity == Ticket {
				name, anchor = AlertTicket, strings.ToLower(AlertTicket)
			}
			svc.Alerts = append(svc.Alerts, alert{
				Name: name, Severity: w.Severity,
				Expr:   fmt.Sprintf("(%s%s > %s)\nand\n(%s%s > %s)", ErrorRatio(w.Short), sel, thr, ErrorRatio(w.Long), sel, thr),
				Long:   Duration(w.Long),
				Short:  Duration(w.Short),
				Factor: number(w.Factor()),
				Summary: fmt.Sprintf("%s burns its error budget at %s× in {{ $labels.namespace }} (%s over %s and %s)",
					s.Name, number(w.Factor()), w.Severity, Duration(w.Long), Duration(w.Short)),
				Description: fmt.Sprintf("More than %s%% of the probes of %s failed over both the last %s and %s "+
					"(%s tier, objective %s%%): at %s× the sustainable rate the 30-day error budget lasts %s. "+
					"Measured by blackbox probes: works on the v1 images.",
					number(w.Factor()*tier.ErrorBudget()*100), s.Name, Duration(w.Long), Duration(w.Short),
					tier, tier.ObjectivePercent(), number(w.Factor()), Duration(w.Exhaustion())),
				Runbook: RunbookURL + "#" + anchor,
			})
		}
		out = append(out, svc)
	}
	return out
}

var tmpl = template.Must(template.New(FileName).Funcs(template.FuncMap{
	"duration": Duration,
	"factor":   func(w Window) string { return number(w.Factor()) },
	"indent": func(n int, s string) string {
		return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
	},
}).Parse(ruleTemplate))

// Rules returns the generated rule file.
func Rules() ([]byte, error) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, struct {
		Services []service
		Windows  []Window
	}{model(), windows}); err != nil {
		return nil, fmt.Errorf("render %s: %w", FileName, err)
	}
	return buf.Bytes(), nil
}

const ruleTemplate = `# Availability objectives of TraderX as multi-window, multi-burn-rate alerts.
#
# GENERATED by ` + "`go run ./monitoring/gen`" + ` from monitoring/slo and the model
# (pkg/traderx: each service's SLO tier): do not edit by hand.
#
# SLI: the share of failed blackbox probes of the service's Service, per
# namespace (one namespace per environment), over 5m … 3d and 30 days. A probe
# every 15 s is the only request TraderX v1 lets us count: no v1 image serves
# request metrics. A service whose probe target is gone has no SLI; the *Down
# alerts of availability.yml cover that.
#
# Alerts (sloth's google-30d windows, SRE Workbook): fire when the error ratio
# over both windows exceeds burn rate × (1 − objective).
#   severity  long  short  burn rate  budget spent in the long window
{{- range .Windows }}
#   {{ printf "%-8s" .Severity }}  {{ printf "%-4s" (duration .Long) }}  {{ printf "%-5s" (duration .Short) }}  {{ printf "%-9s" (factor .) }}  {{ .BudgetPercent }} %
{{- end }}
groups:
{{- range .Services }}
  - name: traderx-slo-{{ .Name }}
    interval: 15s
    rules:
{{- $svc := . }}
{{- range .Records }}
      - record: {{ .Name }}
        expr: {{ .Expr }}
        labels:
          slo: {{ $svc.SLO }}
          service: {{ $svc.Name }}
          tier: {{ $svc.Tier }}
{{- end }}
{{- with .Latency }}
      - record: {{ .Name }}
        expr: {{ .Expr }}
        labels:
          slo: {{ $svc.LatencySLO }}
          service: {{ $svc.Name }}
          tier: {{ $svc.Tier }}
{{- end }}
{{- range .Alerts }}
      - alert: {{ .Name }}
        expr: |
          {{ indent 10 .Expr }}
        labels:
          severity: {{ .Severity }}
          slo: {{ $svc.SLO }}
          service: {{ $svc.Name }}
          tier: {{ $svc.Tier }}
          long_window: {{ .Long }}
          short_window: {{ .Short }}
          burn_rate: "{{ .Factor }}"
        annotations:
          summary: "{{ .Summary }}"
          description: "{{ .Description }}"
          budget: "{{ $svc.Budget }}"
          runbook_url: "{{ .Runbook }}"
{{- end }}
{{- end }}
`
