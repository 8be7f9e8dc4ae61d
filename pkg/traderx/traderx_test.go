package traderx

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The edges of the upstream v1 code (shared/traderx.md §2); the older demo
// material's map got several of them wrong.
func TestEdges(t *testing.T) {
	want := []Edge{
		{"account-service", "database"}, {"account-service", "people-service"},
		{"position-service", "database"},
		{"trade-processor", "database"}, {"trade-processor", "trade-feed"},
		{"trade-service", "account-service"}, {"trade-service", "reference-data"}, {"trade-service", "trade-feed"},
	}
	if diff := cmp.Diff(want, Edges()); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

func TestTiers(t *testing.T) {
	want := []Tier{
		{1, []string{"database", "reference-data", "trade-feed", "people-service"}},
		{2, []string{"account-service", "position-service", "trade-processor"}},
		{3, []string{"trade-service"}},
		{4, []string{"web-front-end-angular"}},
	}
	if diff := cmp.Diff(want, Tiers()); diff != "" {
		t.Errorf("tiers (-want +got):\n%s", diff)
	}
	if IngressTier() != 5 {
		t.Errorf("ingress tier %d, want 5", IngressTier())
	}
	rev := ReverseTiers()
	if rev[0].Number != 4 || rev[len(rev)-1].Number != 1 {
		t.Errorf("reverse tiers %v", rev)
	}
	// Every dependency is applied in an earlier tier than its dependents.
	for _, e := range Edges() {
		if TierOf(e.To) >= TierOf(e.From) {
			t.Errorf("%s (tier %d) depends on %s (tier %d)", e.From, TierOf(e.From), e.To, TierOf(e.To))
		}
	}
}

func TestServicesFacts(t *testing.T) {
	ports := map[string]int32{
		"database": 18082, "reference-data": 18085, "trade-feed": 18086, "people-service": 18089,
		"account-service": 18088, "position-service": 18090, "trade-processor": 18091,
		"trade-service": 18092, "web-front-end-angular": 18093,
	}
	if len(Services()) != len(ports) {
		t.Fatalf("%d services, want %d", len(Services()), len(ports))
	}
	for _, s := range Services() {
		if s.Port != ports[s.Name] {
			t.Errorf("%s port %d, want %d", s.Name, s.Port, ports[s.Name])
		}
		if got := s.Image("latest"); got != "ghcr.io/finos/traderx/"+s.Name+":latest" {
			t.Errorf("image %s", got)
		}
		if s.Metrics {
			t.Errorf("%s claims metrics; no v1 image serves them", s.Name)
		}
	}
	var bg, single []string
	for _, s := range Services() {
		if s.BlueGreen {
			bg = append(bg, s.Name)
		}
		if s.Singleton {
			single = append(single, s.Name)
		}
	}
	if diff := cmp.Diff([]string{"reference-data", "position-service", "trade-service"}, bg); diff != "" {
		t.Errorf("blue-green (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"database", "trade-processor"}, single); diff != "" {
		t.Errorf("singletons (-want +got):\n%s", diff)
	}
	for _, s := range Services() {
		if s.Singleton != (s.SingletonReason != "") {
			t.Errorf("%s: Singleton %v but reason %q", s.Name, s.Singleton, s.SingletonReason)
		}
	}
	pos, _ := LookupService("position-service")
	if pos.Probes.Liveness.Path != "/health/alive" || pos.Probes.Readiness.Path != "/health/ready" {
		t.Errorf("position-service probes %+v: readiness queries the DB, liveness must not", pos.Probes)
	}
	if Dependents("database")[0] != "account-service" || len(Dependents("trade-service")) != 0 {
		t.Errorf("dependents: %v / %v", Dependents("database"), Dependents("trade-service"))
	}
}

func TestLookups(t *testing.T) {
	tests := []struct {
		name    string
		fn      func() error
		wantErr string
	}{
		{"known service", func() error { _, err := LookupService("trade-service"); return err }, ""},
		{"unknown service", func() error { _, err := LookupService("trade-svc"); return err }, `unknown service "trade-svc" (valid: database, reference-data`},
		{"known env", func() error { _, err := LookupEnvironment("prod"); return err }, ""},
		{"unknown env", func() error { _, err := LookupEnvironment("qa"); return err }, `unknown environment "qa" (valid: dev, staging, prod)`},
		{"service list with unknown", func() error { _, err := LookupServices([]string{"database", "x"}); return err }, `unknown service "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
	got, err := LookupServices([]string{"trade-service", "database", "database"})
	if err != nil || len(got) != 2 || got[0].Name != "database" {
		t.Errorf("LookupServices sorts by tier and dedups: %v %v", got, err)
	}
}

func TestEnvironments(t *testing.T) {
	prod, _ := LookupEnvironment("prod")
	dev, _ := LookupEnvironment("dev")
	if !prod.Protected || dev.Protected {
		t.Error("only prod is protected")
	}
	if prod.Namespace() != "traderx-prod" || prod.Space("acme") != "acme-prod" || BaseSpace("acme") != "acme-base" {
		t.Errorf("naming: %s %s %s", prod.Namespace(), prod.Space("acme"), BaseSpace("acme"))
	}
	db, _ := LookupService("database")
	ts, _ := LookupService("trade-service")
	if prod.ReplicasFor(db) != 1 || prod.ReplicasFor(ts) != 3 || dev.ReplicasFor(ts) != 1 {
		t.Errorf("replicas: db %d, prod trade-service %d, dev %d", prod.ReplicasFor(db), prod.ReplicasFor(ts), dev.ReplicasFor(ts))
	}
	if r := dev.ResourcesFor(ts); r.RequestCPU != "250m" || r.RequestMemory != "256Mi" || r.LimitCPU != ts.Resources.LimitCPU {
		t.Errorf("dev trade-service resources %+v: requests halved, limits kept", r)
	}
	// Mutating a returned environment must not change the model.
	dev.ResourceOverrides["trade-service"] = Resources{}
	again, _ := LookupEnvironment("dev")
	if again.ResourcesFor(ts).RequestCPU != "250m" {
		t.Error("LookupEnvironment leaks the model's maps")
	}
}

func TestResolveProject(t *testing.T) {
	tests := []struct {
		flag, env, want, wantErr string
	}{
		{"", "", "traderx", ""},
		{"", "acme-traderx", "acme-traderx", ""},
		{"mine", "acme", "mine", ""},
		{"Bad_Name", "", "", "invalid project"},
	}
	for _, tt := range tests {
		getenv := func(k string) string {
			if k != ProjectEnv {
				t.Errorf("ResolveProject read $%s", k)
			}
			return tt.env
		}
		got, err := ResolveProject(tt.flag, getenv)
		if got != tt.want || (tt.wantErr != "") != (err != nil) {
			t.Errorf("ResolveProject(%q) with env %q = %q, %v", tt.flag, tt.env, got, err)
		}
	}
}
