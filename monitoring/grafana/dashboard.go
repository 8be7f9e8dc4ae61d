// Package grafana builds the TraderX overview dashboard from typed Go with the
// Grafana Foundation SDK. The committed traderx-overview.json is generated from
// it by `go run ./monitoring/gen`; a test fails when the two differ.
//
// Every query filters on the two template variables: $environment (the
// environment's namespace, traderx-<env>) and $service (one or more services of
// the model). cAdvisor series carry no app label, so they are matched on the pod
// name; kube-state-metrics Deployments of blue-green services end in -blue or
// -green.
package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

// FileName is the generated dashboard, in this directory.
const FileName = "traderx-overview.json"

// UID is the dashboard's stable identifier.
const UID = "traderx-overview"

// Template variable names. Queries refer to them as $environment and $service.
const (
	VarDatasource  = "datasource"
	VarEnvironment = "environment"
	VarService     = "service"
)

// CriticalServices are the services with a *Down alert and a status panel.
var CriticalServices = []string{"trade-service", "reference-data", "position-service"}

// Label selectors shared by the queries.
const (
	env        = `namespace="$environment"`
	app        = `app=~"$service"`
	pod        = `pod=~"($service)-.*"`
	deployment = `deployment=~"($service)(-blue|-green)?"`
	// cAdvisor: container-level series only (not the pod cgroup or pause container).
	containers = `container!="", container!="POD", image!=""`
	http       = `job="traderx-pods", uri!~"/actuator.*"`
	probes     = `job=~"blackbox-(http|tcp)"`
	ksm        = `job="kube-state-metrics"`
)

// appFromPod adds an app label derived from a pod name
// (<service>[-blue|-green]-<replicaset hash>-<pod hash>).
func appFromPod(expr string) string {
	return fmt.Sprintf(`label_replace(%s, "app", "$1", "pod", "(.+?)(?:-blue|-green)?-[a-z0-9]+-[a-z0-9]+")`, expr)
}

// appFromDeployment adds an app label derived from a Deployment name.
func appFromDeployment(expr string) string {
	return fmt.Sprintf(`label_replace(%s, "app", "$1", "deployment", "(.+?)(?:-blue|-green)?")`, expr)
}

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + VarDatasource + "}")}
}

func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource()).
		RefId(ref).
		Expr(expr).
		LegendFormat(legend)
}

func instant(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return query(ref, expr, legend).Instant().Format(prometheus.PromQueryFormatTable)
}

func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func step(value *float64, colour string) dashboard.Threshold {
	return dashboard.Threshold{Value: value, Color: colour}
}

func upDownMapping() []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: cog.ToPtr("DOWN"), Color: cog.ToPtr("red"), Index: cog.ToPtr[int32](0)},
			"1": {Text: cog.ToPtr("UP"), Color: cog.ToPtr("green"), Index: cog.ToPtr[int32](1)},
		},
	}}}
}

func timeSeries(title, description, unit string, targets ...cog.Builder[variants.Dataquery]) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Min(0).
		FillOpacity(10).
		Height(8).
		Span(12).
		Targets(targets)
}

// Dashboard returns the builder of the TraderX overview dashboard.
func Dashboard() *dashboard.DashboardBuilder {
	return withObjectives(dashboard.NewDashboardBuilder("TraderX overview").
		Uid(UID).
		Description("Availability, traffic and resources of the TraderX services of one environment. "+
			"Request, latency and error panels need Micrometer metrics, which the v1 images do not expose; "+
			"availability, resources, restarts and the availability objectives (error budgets and burn rates "+
			"from blackbox probes) work on every image.").
		Tags([]string{"traderx", "generated"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder(VarDatasource).
			Label("Data source").
			Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder(VarEnvironment).
			Label("Environment").
			Description("The environment's namespace (traderx-<env>).").
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(kube_namespace_status_phase{namespace=~"traderx-.+"}, namespace)`)}).
			Definition(`label_values(kube_namespace_status_phase{namespace=~"traderx-.+"}, namespace)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithVariable(serviceVariable()).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Alerts").
			Datasource(datasource()).
			Enable(true).
			IconColor("red").
			Expr(alertsAnnotation()).
			TitleFormat("{{alertname}}").
			TextFormat("{{alertname}} ({{severity}})").
			Step("60s")).
		WithRow(dashboard.NewRowBuilder("Availability")).
		WithPanel(availabilityPanel()).
		WithPanel(criticalPanel()).
		WithRow(dashboard.NewRowBuilder("Traffic (needs Micrometer metrics)")).
		WithPanel(timeSeries("Request rate", "HTTP requests per second by service (actuator excluded).", "reqps",
			query("A", fmt.Sprintf(`sum by (app) (rate(http_server_requests_seconds_count{%s, %s, %s}[$__rate_interval]))`, http, env, app), "{{app}}"))).
		WithPanel(timeSeries("P95 latency", "95th percentile of HTTP request duration by service.", "s",
			query("A", fmt.Sprintf(`histogram_quantile(0.95, sum by (app, le) (rate(http_server_requests_seconds_bucket{%s, %s, %s}[$__rate_interval])))`, http, env, app), "{{app}}"))).
		WithPanel(timeSeries("Error rate", "Share of HTTP requests answered with 5xx, by service.", "percentunit",
			query("A", fmt.Sprintf(`sum by (app) (rate(http_server_requests_seconds_count{%s, %s, %s, status=~"5.."}[$__rate_interval])) / sum by (app) (rate(http_server_requests_seconds_count{%s, %s, %s}[$__rate_interval]))`, http, env, app, http, env, app), "{{app}}"))).
		WithPanel(timeSeries("Probe duration", "Duration of the blackbox health probe of each service.", "s",
			query("A", fmt.Sprintf(`max by (app) (probe_duration_seconds{%s, %s, %s})`, probes, env, app), "{{app}}"))).
		WithRow(dashboard.NewRowBuilder("Resources")).
		WithPanel(timeSeries("Memory (working set)", "Working-set memory of each pod's containers.", "bytes",
			query("A", fmt.Sprintf(`sum by (pod) (container_memory_working_set_bytes{%s, %s, %s})`, env, pod, containers), "{{pod}}"))).
		WithPanel(timeSeries("CPU", "CPU cores used by each pod's containers.", "short",
			query("A", fmt.Sprintf(`sum by (pod) (rate(container_cpu_usage_seconds_total{%s, %s, %s}[$__rate_interval]))`, env, pod, containers), "{{pod}}"))).
		WithPanel(timeSeries("Container restarts (15m)", "Container restarts in the last 15 minutes, by pod.", "short",
			query("A", fmt.Sprintf(`sum by (pod) (increase(kube_pod_container_status_restarts_total{%s, %s, %s}[15m]))`, ksm, env, pod), "{{pod}}"))).
		WithPanel(timeSeries("Network I/O", "Bytes per second received (positive) and transmitted (negative), by pod. Network series are pod-level.", "Bps",
			query("A", fmt.Sprintf(`sum by (pod) (rate(container_network_receive_bytes_total{%s, %s}[$__rate_interval]))`, env, pod), "{{pod}} rx"),
			query("B", fmt.Sprintf(`-sum by (pod) (rate(container_network_transmit_bytes_total{%s, %s}[$__rate_interval]))`, env, pod), "{{pod}} tx"))).
		WithRow(dashboard.NewRowBuilder("Health")).
		WithPanel(healthTable()))
}

func serviceVariable() *dashboard.CustomVariableBuilder {
	names := traderx.ServiceNames()
	return dashboard.NewCustomVariableBuilder(VarService).
		Label("Service").
		Description("TraderX services (from the application model).").
		Values(dashboard.StringOrMap{String: cog.ToPtr(strings.Join(names, ","))}).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// alertsAnnotation selects the firing alerts of the environment that concern
// the selected services, whichever label names the service.
func alertsAnnotation() string {
	base := `ALERTS{alertstate="firing", namespace="$environment", `
	return strings.Join([]string{
		base + app + "}",
		base + `service=~"$service"}`,
		base + pod + "}",
		base + deployment + "}",
	}, " or ")
}

func availabilityPanel() *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title("Service availability").
		Description("Blackbox health probe of each service's Service: HTTP on its health path, TCP where it has none. Works on the v1 images.").
		Datasource(datasource()).
		Height(6).
		Span(14).
		Mappings(upDownMapping()).
		Thresholds(thresholds(step(nil, "red"), step(cog.ToPtr(1.0), "green"))).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		WithTarget(query("A", fmt.Sprintf(`max by (app) (probe_success{%s, %s, %s})`, probes, env, app), "{{app}}"))
}

func criticalPanel() *stat.PanelBuilder {
	var targets []cog.Builder[variants.Dataquery]
	for i, name := range CriticalServices {
		expr := fmt.Sprintf(`sum(kube_deployment_status_replicas_available{%s, %s, deployment=~"%s(-blue|-green)?", %s})`, ksm, env, name, deployment)
		targets = append(targets, query(string(rune('A'+i)), expr, name))
	}
	return stat.NewPanelBuilder().
		Title("Critical services: available replicas").
		Description("Available replicas of trade-service, reference-data and position-service, both colours summed. 0 fires the *Down alert.").
		Datasource(datasource()).
		Height(6).
		Span(10).
		Thresholds(thresholds(step(nil, "red"), step(cog.ToPtr(1.0), "green"))).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		NoValue("no Deployment").
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Targets(targets)
}

func healthTable() *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title("Service health").
		Description("Per service: probe result, available replicas (both colours) and container restarts in the last hour.").
		Datasource(datasource()).
		Height(9).
		Span(24).
		CellHeight(common.TableCellHeightSm).
		// The SDK's default footer has a null reducer, which its own strict
		// decoder rejects: set it explicitly.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{})).
		Targets([]cog.Builder[variants.Dataquery]{
			instant("A", fmt.Sprintf(`max by (app) (probe_success{%s, %s, %s})`, probes, env, app), "probe"),
			instant("B", fmt.Sprintf(`sum by (app) (%s)`, appFromDeployment(fmt.Sprintf(`kube_deployment_status_replicas_available{%s, %s, %s}`, ksm, env, deployment))), "available"),
			instant("C", fmt.Sprintf(`sum by (app) (%s)`, appFromPod(fmt.Sprintf(`increase(kube_pod_container_status_restarts_total{%s, %s, %s}[1h])`, ksm, env, pod))), "restarts"),
		}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName": map[string]any{
				"app":      "Service",
				"Value #A": "Probe (1 = up)",
				"Value #B": "Available replicas",
				"Value #C": "Restarts (1h)",
			},
		}})
}

// Build returns the dashboard.
func Build() (dashboard.Dashboard, error) {
	d, err := Dashboard().Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("build dashboard: %w", err)
	}
	// The builders leave panel ids unset; number every panel and row in order
	// so links to a panel (viewPanel=<id>) stay stable.
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		switch {
		case p.Panel != nil:
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
			for i := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[i].Id = cog.ToPtr(id)
			}
		}
	}
	return d, nil
}

// JSON returns the dashboard as indented JSON, as committed in FileName.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("marshal dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

// Query is one PromQL expression of the dashboard.
type Query struct {
	// Where says which panel (or annotation) holds it.
	Where string
	RefID string
	Expr  string
}

// Queries returns every PromQL expression of a dashboard: panel targets,
// including panels inside collapsed rows, and annotation queries.
func Queries(d dashboard.Dashboard) []Query {
	var out []Query
	add := func(title string, targets []variants.Dataquery) {
		for _, t := range targets {
			var q prometheus.Dataquery
			switch v := t.(type) {
			case prometheus.Dataquery:
				q = v
			case *prometheus.Dataquery:
				q = *v
			default:
				continue
			}
			ref := ""
			if q.RefId != nil {
				ref = *q.RefId
			}
			out = append(out, Query{Where: "panel " + title, RefID: ref, Expr: q.Expr})
		}
	}
	for _, p := range d.Panels {
		if p.Panel != nil {
			add(deref(p.Panel.Title), p.Panel.Targets)
		}
		if p.RowPanel != nil {
			for _, inner := range p.RowPanel.Panels {
				add(deref(inner.Title), inner.Targets)
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != nil && *a.Expr != "" {
			out = append(out, Query{Where: "annotation " + a.Name, Expr: *a.Expr})
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
