package traderx

import "time"

// SLOTier is a service's availability class as the seed names them: critical,
// high or medium. It is unrelated to the apply Tier; alerts and dashboards label
// it "tier" because the seed does.
type SLOTier string

const (
	SLOCritical SLOTier = "critical"
	SLOHigh     SLOTier = "high"
	SLOMedium   SLOTier = "medium"
)

// SLOWindow is the period every availability objective is measured over: 30
// days, the window sloth's and the SRE Workbook's burn rates are computed for.
const SLOWindow = 30 * 24 * time.Hour

// sloObjectives holds each tier's objective and its error budget as decimals
// written out, so 1 − 0.9995 appears in rules as 0.0005 and not as float noise.
var sloObjectives = map[SLOTier]struct {
	percent           string
	objective, budget float64
}{
	SLOCritical: {percent: "99.95", objective: 0.9995, budget: 0.0005},
	SLOHigh:     {percent: "99.9", objective: 0.999, budget: 0.001},
	SLOMedium:   {percent: "99.5", objective: 0.995, budget: 0.005},
}

// SLOTiers lists the tiers from the strictest objective down.
func SLOTiers() []SLOTier { return []SLOTier{SLOCritical, SLOHigh, SLOMedium} }

// Objective returns the availability objective as a ratio (0.9995 for 99.95 %).
func (t SLOTier) Objective() float64 { return sloObjectives[t].objective }

// ObjectivePercent returns the objective as the seed writes it ("99.95").
func (t SLOTier) ObjectivePercent() string { return sloObjectives[t].percent }

// ErrorBudget returns 1 − Objective: the share of probes that may fail.
func (t SLOTier) ErrorBudget() float64 { return sloObjectives[t].budget }

// BudgetPerWindow returns how long the service may be down in one SLOWindow
// without missing its objective: 21m36s at 99.95 %.
func (t SLOTier) BudgetPerWindow() time.Duration {
	return time.Duration(t.ErrorBudget() * float64(SLOWindow)).Round(time.Second)
}

// SLO is what the seed promises about a service.
type SLO struct {
	Tier SLOTier
	// TierReason says why the service is in its tier, for the people changing it.
	TierReason string
	// LatencyP95 is the seed's P95 latency target; zero when it sets none.
	LatencyP95 time.Duration
	// LatencyProbed is true when the blackbox probe of the service's health
	// path exercises enough of what the target is about for the probe's own
	// duration to judge it. The probe is one request every scrape from outside
	// the pod, so it can never give the server-side P95 the seed means; that
	// needs request metrics no v1 image emits. LatencyNote says which it is.
	LatencyProbed bool
	LatencyNote   string
}

// ServicesInSLOTier returns the services of a tier in apply order.
func ServicesInSLOTier(t SLOTier) []Service {
	var out []Service
	for _, s := range Services() {
		if s.SLO.Tier == t {
			out = append(out, s)
		}
	}
	return out
}
