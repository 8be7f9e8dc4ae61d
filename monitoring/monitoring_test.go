package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

func TestObjects(t *testing.T) {
	for _, env := range traderx.Environments() {
		t.Run(env.Name, func(t *testing.T) {
			objs, err := Objects(env)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.GetKind()+"/"+o.GetName())
				if o.GetNamespace() != env.Namespace() {
					t.Errorf("%s/%s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), env.Namespace())
				}
				l := o.GetLabels()
				if l[LabelPartOf] != "traderx" || l[LabelName] != "monitoring" {
					t.Errorf("%s/%s: labels %v", o.GetKind(), o.GetName(), l)
				}
			}
			want := []string{
				"ConfigMap/" + ScrapeConfigMapName, "ConfigMap/" + RulesConfigMapName,
				"ConfigMap/" + DashboardConfigMapName, "PrometheusRule/" + PrometheusRuleName,
			}
			if !slices.Equal(kinds, want) {
				t.Fatalf("objects %v, want %v", kinds, want)
			}

			data := func(i int) map[string]any { return objs[i].Object["data"].(map[string]any) }
			if data(0)["prometheus.yml"] != string(ScrapeConfig()) {
				t.Error("scrape ConfigMap does not hold prometheus.yml")
			}
			if got := sortedKeys(data(1)); !slices.Equal(got, []string{"application.yml", "availability.yml", "kubernetes.yml", "slo.yml"}) {
				t.Errorf("rules ConfigMap keys %v", got)
			}
			if data(2)["traderx-overview.json"] != string(Dashboard()) {
				t.Error("dashboard ConfigMap does not hold the dashboard")
			}
			if objs[0].GetLabels()[LabelGrafanaDashboard] != "" || objs[2].GetLabels()[LabelGrafanaDashboard] != "1" {
				t.Error("only the dashboard ConfigMap carries the grafana_dashboard label")
			}

			rule := objs[3]
			if rule.GetAPIVersion() != "monitoring.coreos.com/v1" {
				t.Errorf("PrometheusRule apiVersion %q", rule.GetAPIVersion())
			}
			groups := rule.Object["spec"].(map[string]any)["groups"].([]any)
			// Three hand-written groups, and one SLO group per service.
			if want := 3 + len(traderx.Services()); len(groups) != want {
				t.Errorf("PrometheusRule has %d groups, want %d", len(groups), want)
			}
			// 13 hand-written alerts, and four burn-rate alerts per service.
			if n, want := len(alerts(t)), 13+4*len(traderx.Services()); n != want {
				t.Errorf("%d alerts, want %d", n, want)
			}

			// Deterministic, and the objects are valid unstructured content.
			again, err := Objects(env)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(objs)
			b, _ := json.Marshal(again)
			if string(a) != string(b) {
				t.Error("Objects is not deterministic")
			}
			for _, o := range objs {
				_ = o.DeepCopy() // panics on values unstructured cannot hold
			}
		})
	}
}

type alert struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func alerts(t *testing.T) []alert {
	t.Helper()
	var out []alert
	for name, b := range RuleFiles() {
		var f struct {
			Groups []struct {
				Name  string  `json:"name"`
				Rules []alert `json:"rules"`
			} `json:"groups"`
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" { // not a recording rule
					out = append(out, r)
				}
			}
		}
	}
	return out
}

func TestAlertsAreComplete(t *testing.T) {
	runbooks, err := os.ReadFile("runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"TradeServiceDown", "ReferenceDataDown", "PositionServiceDown", "HighErrorRate", "HighLatency",
		"HighMemoryUsage", "HighCPUUsage", "FrequentPodRestarts", "DeploymentReplicasMismatch",
		"LowTradingVolume", "HighTradeRejectionRate", "ServiceProbeFailed", "ServiceProbeSlow",
		"ErrorBudgetBurnPage", "ErrorBudgetBurnTicket",
	}
	byName := map[string]alert{}
	for _, a := range alerts(t) {
		byName[a.Alert] = a
	}
	for _, name := range want {
		a, ok := byName[name]
		if !ok {
			t.Errorf("alert %s missing", name)
			continue
		}
		// Burn-rate alerts page or ticket, as sloth's do; the others grade.
		if !slices.Contains([]string{"critical", "warning", "info", "page", "ticket"}, a.Labels["severity"]) {
			t.Errorf("%s: severity %q", name, a.Labels["severity"])
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if a.Annotations[k] == "" {
				t.Errorf("%s: annotation %s missing", name, k)
			}
		}
		anchor := strings.ToLower(name)
		if !strings.HasSuffix(a.Annotations["runbook_url"], "/monitoring/runbooks.md#"+anchor) {
			t.Errorf("%s: runbook_url %q", name, a.Annotations["runbook_url"])
		}
		if !strings.Contains(string(runbooks), "\n## "+name+"\n") {
			t.Errorf("runbooks.md has no section %q", name)
		}
		if strings.Contains(a.Expr, "http_server_requests") && !strings.Contains(a.Annotations["description"], "Micrometer") {
			t.Errorf("%s needs Micrometer metrics but its description does not say so", name)
		}
	}
	if len(byName) != len(want) {
		t.Errorf("%d alerts, want %d", len(byName), len(want))
	}
}

var (
	deploymentMatcher = regexp.MustCompile(`deployment=~"([^"]+)"`)
	namespaceMatcher  = regexp.MustCompile(`namespace=~"([^"]+)"`)
)

// The *Down alerts must match both colours of blue-green Deployments, and every
// namespace matcher every environment's namespace, as the model names them.
func TestAlertsMatchTheModel(t *testing.T) {
	down := map[string]string{
		"TradeServiceDown": "trade-service", "ReferenceDataDown": "reference-data", "PositionServiceDown": "position-service",
	}
	for _, a := range alerts(t) {
		for _, m := range namespaceMatcher.FindAllStringSubmatch(a.Expr, -1) {
			re := regexp.MustCompile("^(?:" + m[1] + ")$")
			for _, env := range traderx.Environments() {
				if !re.MatchString(env.Namespace()) {
					t.Errorf("%s: namespace=~%q does not match %s", a.Alert, m[1], env.Namespace())
				}
			}
		}
		name, ok := down[a.Alert]
		if !ok {
			continue
		}
		s, err := traderx.LookupService(name)
		if err != nil {
			t.Fatal(err)
		}
		if a.Labels["service"] != name || a.For != "30s" || a.Labels["severity"] != "critical" {
			t.Errorf("%s: labels %v, for %s", a.Alert, a.Labels, a.For)
		}
		matchers := deploymentMatcher.FindAllStringSubmatch(a.Expr, -1)
		if len(matchers) == 0 {
			t.Errorf("%s has no deployment matcher", a.Alert)
		}
		for _, m := range matchers {
			re := regexp.MustCompile("^(?:" + m[1] + ")$")
			for _, colour := range traderx.Colours() {
				if d := s.DeploymentName(colour); !re.MatchString(d) {
					t.Errorf("%s: deployment=~%q does not match %s", a.Alert, m[1], d)
				}
			}
			if !re.MatchString(s.Name) {
				t.Errorf("%s: deployment=~%q does not match %s", a.Alert, m[1], s.Name)
			}
			for _, other := range traderx.ServiceNames() {
				if other != name && re.MatchString(other) {
					t.Errorf("%s: deployment=~%q also matches %s", a.Alert, m[1], other)
				}
			}
		}
		if !strings.Contains(a.Expr, `app="`+name+`"`) {
			t.Errorf("%s: no app=%q matcher for probes and scrapes", a.Alert, name)
		}
	}
}

// README.md documents every service's SLO tier and reason as the model has them.
func TestReadmeTiersMatchTheModel(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range traderx.Services() {
		row := fmt.Sprintf("| `%s` | %s | %s |\n", s.Name, s.SLO.Tier, s.SLO.TierReason)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row %q", row)
		}
	}
	for _, tier := range traderx.SLOTiers() {
		var names []string
		for _, s := range traderx.ServicesInSLOTier(tier) {
			names = append(names, s.Name)
		}
		row := fmt.Sprintf("| %s | %s %% |", tier, tier.ObjectivePercent())
		if !strings.Contains(string(readme), row) || !strings.Contains(string(readme), strings.Join(names, ", ")+" |\n") {
			t.Errorf("README.md does not list tier %s (%s %%) with %s", tier, tier.ObjectivePercent(), strings.Join(names, ", "))
		}
	}
}
