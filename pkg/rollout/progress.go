package rollout

import (
	"fmt"

	"github.com/finos/traderx-plugins/pkg/check"
)

// Progress hears how a run advances, one step at a time: a tier of an
// apply, a space of an install. It may be called from several goroutines
// (a tier's units are applied together). The per-unit detail goes to the
// log at debug level; the audit records are unchanged.
type Progress interface {
	Step(Step)
}

// Step is where one step of a run stands.
type Step struct {
	// Name identifies the step: "tier 2 (trade-service, position-service)",
	// "space traderx-dev".
	Name string
	// Done of Total units are done; Total 0 leaves the counts as they were.
	Done, Total int
	// Note is what the step is doing ("applying", "waiting: …") or, at its
	// End, how it ended.
	Note   string
	End    bool
	Failed bool
}

func (r *Rollout) step(s Step) {
	if r.Progress != nil {
		r.Progress.Step(s)
	}
}

// tierName names a tier by its services, or its units when it has none.
func tierName(t tierPlan) string {
	what := t.services
	if len(what) == 0 {
		what = unitNames(t.units)
	}
	return fmt.Sprintf("tier %d (%s)", t.number, check.Examples(what))
}

// tierEnd says how a tier ended, for its last progress line.
func tierEnd(tr TierResult) (done int, note string) {
	applied, skipped := 0, 0
	for _, u := range tr.Units {
		switch u.Outcome {
		case UnitApplied:
			applied++
		case UnitSkipped:
			skipped++
		}
	}
	note = fmt.Sprintf("%d applied", applied)
	if skipped > 0 {
		note += fmt.Sprintf(", %d live at head", skipped)
	}
	if tr.Verdict != "" {
		note += ", " + string(tr.Verdict)
	}
	return applied + skipped, note
}
