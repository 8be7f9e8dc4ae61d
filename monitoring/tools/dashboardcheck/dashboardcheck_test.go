package dashboardcheck

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/finos/traderx-plugins/monitoring/grafana"
	"github.com/finos/traderx-plugins/monitoring/slo"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const namespace = "traderx-prod"

var serviceValues = []string{".*", "trade-service", "(trade-service|reference-data)"}

func queries(t *testing.T) []grafana.Query {
	t.Helper()
	d, err := grafana.Build()
	if err != nil {
		t.Fatal(err)
	}
	qs := grafana.Queries(d)
	if len(qs) < 12 {
		t.Fatalf("only %d queries found", len(qs))
	}
	return qs
}

func TestEveryQueryParses(t *testing.T) {
	qs := queries(t)
	for _, svc := range serviceValues {
		for _, err := range ParseErrors(qs, Values{Environment: namespace, Service: svc}) {
			t.Errorf("service=%s: %v", svc, err)
		}
	}
}

// A deliberately broken dashboard query must be reported, naming its panel.
func TestBrokenQueryIsReported(t *testing.T) {
	d, err := grafana.Build()
	if err != nil {
		t.Fatal(err)
	}
	broken := 0
	for _, p := range d.Panels {
		if p.Panel == nil || p.Panel.Title == nil || *p.Panel.Title != "P95 latency" {
			continue
		}
		q := p.Panel.Targets[0].(prometheus.Dataquery)
		q.Expr = strings.Replace(q.Expr, "[$__rate_interval])))", "[$__rate_interval]))", 1) // drop a ")"
		p.Panel.Targets[0] = q
		broken++
	}
	if broken != 1 {
		t.Fatalf("found %d P95 latency panels, want 1", broken)
	}
	errs := ParseErrors(grafana.Queries(d), Values{Environment: namespace, Service: ".*"})
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1: %v", len(errs), errs)
	}
	t.Logf("reported as expected: %v", errs[0])
	if !strings.Contains(errs[0].Error(), "panel P95 latency A") {
		t.Errorf("error does not name the panel: %v", errs[0])
	}
	// An unsubstituted variable is reported too.
	errs = ParseErrors([]grafana.Query{{Where: "panel X", RefID: "A", Expr: `up{namespace="$env"}`}}, Values{Environment: namespace, Service: ".*"})
	if len(errs) != 1 {
		t.Fatalf("unknown variable not reported: %v", errs)
	}
}

// fixtures are series labelled like real kube-state-metrics, cAdvisor,
// blackbox-exporter and Micrometer output for every service of the model in
// traderx-prod: blue-green services serve from green with blue scaled to 0.
func fixtures() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, "  "+format+"\n", args...) }
	b.WriteString("load 15s\n")
	for i, s := range traderx.Services() {
		deploy := s.DeploymentName(traderx.Green)
		pod := fmt.Sprintf("%s-6d5f7c9b8d-x%dq7z", deploy, i)
		module, job, instance := "tcp_connect", "blackbox-tcp", fmt.Sprintf("%s.%s.svc:%d", s.Name, namespace, s.Port)
		if s.HealthPath != "" {
			module, job, instance = "http_2xx", "blackbox-http", fmt.Sprintf("http://%s.%s.svc:%d%s", s.Name, namespace, s.Port, s.HealthPath)
		}
		_ = module
		line(`probe_success{job=%q, instance=%q, namespace=%q, app=%q} 1x80`, job, instance, namespace, s.Name)
		line(`probe_duration_seconds{job=%q, instance=%q, namespace=%q, app=%q} 0.02x80`, job, instance, namespace, s.Name)
		ksm := fmt.Sprintf(`job="kube-state-metrics", instance="10.244.0.5:8080", namespace=%q`, namespace)
		line(`kube_deployment_status_replicas_available{%s, deployment=%q} 2x80`, ksm, deploy)
		line(`kube_deployment_spec_replicas{%s, deployment=%q} 2x80`, ksm, deploy)
		if s.BlueGreen {
			line(`kube_deployment_status_replicas_available{%s, deployment=%q} 0x80`, ksm, s.DeploymentName(traderx.Blue))
		}
		line(`kube_pod_container_status_restarts_total{%s, pod=%q, container=%q, uid="u%d"} 0+0.05x80`, ksm, pod, s.Name, i)
		cad := fmt.Sprintf(`job="kubelet-cadvisor", instance="kind-worker", namespace=%q, pod=%q`, namespace, pod)
		image := s.Image("latest")
		line(`container_memory_working_set_bytes{%s, container=%q, image=%q, id="/kubepods/c%d"} 300000000x80`, cad, s.Name, image, i)
		line(`container_memory_working_set_bytes{%s, container="", image="", id="/kubepods/p%d"} 310000000x80`, cad, i)
		line(`container_memory_working_set_bytes{%s, container="POD", image="registry.k8s.io/pause:3.10", id="/kubepods/pause%d"} 1000000x80`, cad, i)
		line(`container_cpu_usage_seconds_total{%s, container=%q, image=%q, cpu="total", id="/kubepods/c%d"} 0+3x80`, cad, s.Name, image, i)
		line(`container_network_receive_bytes_total{%s, container="", image="registry.k8s.io/pause:3.10", interface="eth0", id="/kubepods/p%d"} 0+15000x80`, cad, i)
		line(`container_network_transmit_bytes_total{%s, container="", image="registry.k8s.io/pause:3.10", interface="eth0", id="/kubepods/p%d"} 0+7500x80`, cad, i)
	}
	// Series the SLO rules record, labelled as monitoring/slo labels them.
	for _, s := range traderx.Services() {
		labels := fmt.Sprintf(`namespace=%q, service=%q, tier=%q`, namespace, s.Name, s.SLO.Tier)
		line(`%s{%s, slo=%q} 0.0001x80`, slo.ErrorRatio(traderx.SLOWindow), labels, slo.Name(s))
		line(`%s{%s, slo=%q} 0.5x80`, slo.BurnRate1h, labels, slo.Name(s))
		line(`%s{%s, slo=%q} 0.8x80`, slo.BudgetRemaining, labels, slo.Name(s))
		if s.SLO.LatencyProbed {
			line(`%s{%s, slo=%q} 0.02x80`, slo.LatencyP95, labels, slo.LatencyName(s))
		}
	}
	mm := fmt.Sprintf(`job="traderx-pods", namespace=%q, app="trade-service", pod="trade-service-green-6d5f7c9b8d-x7q7z", container="trade-service", color="green", uri="/trade/", method="POST"`, namespace)
	line(`http_server_requests_seconds_count{%s, status="200", outcome="SUCCESS", exception="None"} 0+40x80`, mm)
	line(`http_server_requests_seconds_count{%s, status="500", outcome="SERVER_ERROR", exception="RuntimeException"} 0+1x80`, mm)
	for _, le := range []struct {
		le    string
		delta int
	}{{"0.05", 20}, {"0.1", 30}, {"0.25", 38}, {"0.5", 40}, {"1.0", 41}, {"+Inf", 41}} {
		line(`http_server_requests_seconds_bucket{%s, status="200", outcome="SUCCESS", exception="None", le=%q} 0+%dx80`, mm, le.le, le.delta)
	}
	line(`ALERTS{alertname="HighMemoryUsage", alertstate="firing", namespace=%q, pod="trade-service-green-6d5f7c9b8d-x7q7z", container="trade-service", severity="warning"} 1x80`, namespace)
	return b.String()
}

// Every panel query returns data against the fixtures, and the health table's
// label_replace turns Deployment and pod names into service names.
func TestEveryPanelReturnsData(t *testing.T) {
	storage := promqltest.LoadedStorage(t, fixtures())
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	at := time.Unix(0, 0).UTC().Add(15 * time.Minute)
	values := Values{Environment: namespace, Service: ".*"}
	for _, q := range queries(t) {
		expr := Substitute(q.Expr, values)
		t.Run(q.Where+" "+q.RefID, func(t *testing.T) {
			qry, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, at)
			if err != nil {
				t.Fatalf("%v\n  query: %s", err, expr)
			}
			defer qry.Close()
			res := qry.Exec(context.Background())
			if res.Err != nil {
				t.Fatalf("%v\n  query: %s", res.Err, expr)
			}
			vec, err := res.Vector()
			if err != nil {
				t.Fatalf("%v\n  query: %s", err, expr)
			}
			if len(vec) == 0 {
				t.Fatalf("no data\n  query: %s", expr)
			}
			for _, s := range vec {
				for _, label := range []string{"app", "service"} {
					if name := s.Metric.Get(label); name != "" {
						if _, err := traderx.LookupService(name); err != nil {
							t.Errorf("result has %s=%q, not a service of the model\n  query: %s", label, name, expr)
						}
					}
				}
			}
			checkCoverage(t, q, vec, expr)
		})
	}
}

// tierMatcher finds the SLO tier a query is about.
var tierMatcher = regexp.MustCompile(`tier="([a-z]+)"`)

// checkCoverage asserts per-service panels cover every service of the model,
// and per-tier panels every service of their tier.
func checkCoverage(t *testing.T, q grafana.Query, vec promql.Vector, expr string) {
	t.Helper()
	if m := tierMatcher.FindStringSubmatch(expr); m != nil {
		seen := map[string]bool{}
		for _, s := range vec {
			seen[s.Metric.Get("service")] = true
		}
		for _, s := range traderx.ServicesInSLOTier(traderx.SLOTier(m[1])) {
			if !seen[s.Name] {
				t.Errorf("%s %s: no series for %s\n  query: %s", q.Where, q.RefID, s.Name, expr)
			}
		}
		if len(seen) != len(traderx.ServicesInSLOTier(traderx.SLOTier(m[1]))) {
			t.Errorf("%s %s: series of %v, want the %s tier only\n  query: %s", q.Where, q.RefID, seen, m[1], expr)
		}
	}
	byApp := strings.Contains(expr, "by (app)") && !strings.Contains(expr, "http_server_requests")
	if !byApp {
		return
	}
	seen := map[string]bool{}
	for _, s := range vec {
		seen[s.Metric.Get("app")] = true
	}
	for _, name := range traderx.ServiceNames() {
		if !seen[name] {
			t.Errorf("%s %s: no series for %s\n  query: %s", q.Where, q.RefID, name, expr)
		}
	}
}
