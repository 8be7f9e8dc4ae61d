package traderx

import (
	"math"
	"slices"
	"testing"
	"time"
)

// The seed's objectives and what they allow per 30 days. The seed's "43
// minutes" is 99.9 % of a 30-day month: 43.2 minutes.
func TestSLOTiers(t *testing.T) {
	for _, tc := range []struct {
		tier      SLOTier
		percent   string
		objective float64
		budget    float64
		perWindow time.Duration
	}{
		{SLOCritical, "99.95", 0.9995, 0.0005, 21*time.Minute + 36*time.Second}, // 21.6 min
		{SLOHigh, "99.9", 0.999, 0.001, 43*time.Minute + 12*time.Second},        // 43.2 min
		{SLOMedium, "99.5", 0.995, 0.005, 3*time.Hour + 36*time.Minute},         // 216 min
	} {
		if got := tc.tier.ObjectivePercent(); got != tc.percent {
			t.Errorf("%s: objective %s %%, want %s", tc.tier, got, tc.percent)
		}
		if got := tc.tier.Objective(); got != tc.objective {
			t.Errorf("%s: objective %v, want %v", tc.tier, got, tc.objective)
		}
		if got := tc.tier.ErrorBudget(); got != tc.budget || math.Abs(1-tc.tier.Objective()-got) > 1e-12 {
			t.Errorf("%s: error budget %v, want %v = 1 - objective", tc.tier, got, tc.budget)
		}
		if got := tc.tier.BudgetPerWindow(); got != tc.perWindow {
			t.Errorf("%s: budget per 30 days %v, want %v", tc.tier, got, tc.perWindow)
		}
	}
	if SLOWindow != 720*time.Hour {
		t.Errorf("SLO window %v, want 30 days", SLOWindow)
	}
}

func TestEveryServiceHasAnSLO(t *testing.T) {
	seen := map[SLOTier]int{}
	for _, s := range Services() {
		if _, ok := sloObjectives[s.SLO.Tier]; !ok || s.SLO.TierReason == "" {
			t.Errorf("%s: tier %q (want one of %v) and a reason", s.Name, s.SLO.Tier, SLOTiers())
		}
		if s.SLO.LatencyP95 > 0 && s.SLO.LatencyNote == "" {
			t.Errorf("%s: a latency target needs a note on what measures it", s.Name)
		}
		if s.SLO.LatencyProbed && (s.SLO.LatencyP95 == 0 || s.HealthPath == "") {
			t.Errorf("%s: only an HTTP-probed service with a latency target can be judged by its probe", s.Name)
		}
		seen[s.SLO.Tier]++
	}
	total := 0
	for _, tier := range SLOTiers() {
		n := len(ServicesInSLOTier(tier))
		if n != seen[tier] || n == 0 {
			t.Errorf("tier %s: %d services, want %d and at least one", tier, n, seen[tier])
		}
		total += n
	}
	if total != len(Services()) {
		t.Errorf("tiers hold %d services, want %d", total, len(Services()))
	}
}

// The seed's latency targets.
func TestLatencyTargets(t *testing.T) {
	want := map[string]time.Duration{
		"reference-data":        50 * time.Millisecond,
		"trade-service":         200 * time.Millisecond,
		"position-service":      100 * time.Millisecond,
		"web-front-end-angular": 2 * time.Second,
	}
	for _, s := range Services() {
		if s.SLO.LatencyP95 != want[s.Name] {
			t.Errorf("%s: P95 target %v, want %v", s.Name, s.SLO.LatencyP95, want[s.Name])
		}
	}
	// trade-service's probe is a redirect to Swagger UI, not an order.
	if s, _ := LookupService("trade-service"); s.SLO.LatencyProbed {
		t.Error("trade-service's latency cannot be judged by its probe")
	}
}

// A service cannot be more available than what it calls: every dependency is
// in the same tier or a stricter one. account-service calls people-service
// only for account users, never while an order is validated.
func TestTiersFollowDependencies(t *testing.T) {
	offTradePath := []Edge{{From: "account-service", To: "people-service"}}
	rank := func(t SLOTier) int { return slices.Index(SLOTiers(), t) }
	for _, e := range Edges() {
		from, _ := LookupService(e.From)
		to, _ := LookupService(e.To)
		if rank(to.SLO.Tier) > rank(from.SLO.Tier) && !slices.Contains(offTradePath, e) {
			t.Errorf("%s (%s) depends on %s (%s), a laxer tier", e.From, from.SLO.Tier, e.To, to.SLO.Tier)
		}
	}
}
