package rollout

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/finos/traderx-plugins/pkg/audit"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// AuditOptions select the changes Audit returns.
type AuditOptions struct {
	// Since and Until bound the change time (zero: unbounded); Until is exclusive.
	Since, Until time.Time
	// Services limits the changes to these services' units (nil: all).
	Services []string
	// Local are the local log's audit records by run ID (audit.ReadRecords),
	// joined to the changes by the run ID of their stamp; nil: none.
	Local map[string][]audit.Stored
}

// AuditChange is one change to an environment: the revisions one run
// wrote (by the run ID of their stamp), or one revision without a stamp.
type AuditChange struct {
	Time       time.Time `json:"time"`
	User       string    `json:"user"`
	Change     string    `json:"change"`
	RunID      string    `json:"run,omitempty"`
	ApprovedBy string    `json:"approvedBy,omitempty"`
	Ticket     string    `json:"ticket,omitempty"`
	// Release is the first release that tagged one of the change's
	// revisions: the release that shipped it (0: none yet).
	Release int `json:"release,omitempty"`
	// Units maps each unit the change wrote to its new revision.
	Units map[string]int64 `json:"units"`
	// Fields summarise the changed fields, "unit: field from → to".
	Fields []string `json:"fields,omitempty"`
	// AppliedAt is when the last of the revisions finished applying, and
	// Result that apply's result (ApplyCompleted, ApplyFailed, …; "" when
	// not applied).
	AppliedAt time.Time `json:"appliedAt,omitzero"`
	Result    string    `json:"result,omitempty"`
	// RolledBackBy names the later rollback that restored the units to
	// revisions before this change.
	RolledBackBy string `json:"rolledBackBy,omitempty"`
	// ApprovedBy, Ticket and Confirmation come from the change's own run,
	// else from the run that recorded its release. Confirmation is how a
	// protected change was confirmed (from the release or the local log),
	// LocalLog the run file on this machine that has the run's detail.
	Confirmation string `json:"confirmation,omitempty"`
	LocalLog     string `json:"localLog,omitempty"`
	// Gates are the health-gate verdicts of the run that applied the change
	// (its own, else its release's), from the local log.
	Gates []string `json:"gates,omitempty"`

	rollbackTo int             // the release a rollback restored (0: not a rollback)
	created    map[string]bool // units the change created: summarised as "created" only
}

// UnitsAt lists the units as unit@revision, sorted.
func (c AuditChange) UnitsAt() []string {
	out := make([]string, 0, len(c.Units))
	for u, n := range c.Units {
		out = append(out, u+"@"+strconv.FormatInt(n, 10))
	}
	sort.Strings(out)
	return out
}

// maxFieldsPerUnit bounds a change's field summary: a new unit is one line
// ("created"), an edit rarely touches more.
const maxFieldsPerUnit = 6

var rollbackDesc = regexp.MustCompile(`^rollback to release (\d+)`)

// AuditTrail returns every change to an environment, oldest first, read from
// ConfigHub's own history: the unit revisions with their descriptions and
// users, the apply events, the release tags. Changes of one run are one
// change; the local log adds how a protected change was confirmed and the
// gate verdicts. It reads only what the ConfigHub models have (SDK c110dd78,
// openapi/goclient-new/models.gen.go): a Revision's UserID (the name through
// include=UserID), Description, CreatedAt and Tags; a UnitEvent's Action,
// RevisionNum, Result and TerminatedAt — an event has no user, so who applied
// is the user of the release.
func (r *Rollout) AuditTrail(ctx context.Context, sp *confighub.Space, env traderx.Environment, o AuditOptions) ([]AuditChange, error) {
	h, err := r.readHistory(ctx, sp, env, o.Services)
	if err != nil {
		return nil, err
	}
	firstRelease := map[string]int{} // "unit@rev" → the first release tagging it
	for _, rel := range h.releases {
		for unit, n := range rel.Units {
			k := unit + "@" + strconv.FormatInt(n, 10)
			if _, ok := firstRelease[k]; !ok {
				firstRelease[k] = rel.Number
			}
		}
	}
	byKey := map[string]*AuditChange{}
	var changes []*AuditChange
	units := make([]string, 0, len(h.revisions))
	for u := range h.revisions {
		units = append(units, u)
	}
	sort.Strings(units)
	for _, unit := range units {
		revs := h.revisions[unit]
		applied, err := r.applyEvents(ctx, h, unit)
		if err != nil {
			return nil, err
		}
		for i := range revs {
			rev := &revs[i]
			desc, st := ParseStamp(rev.Description)
			key := "run " + st.RunID
			if st.RunID == "" {
				key = fmt.Sprintf("revision %s@%d", unit, rev.RevisionNum)
			}
			c := byKey[key]
			if c == nil {
				c = &AuditChange{Time: rev.CreatedAt, User: h.users[rev.UserID], Change: desc, RunID: st.RunID, ApprovedBy: st.ApprovedBy,
					Ticket: st.Ticket, Units: map[string]int64{}, created: map[string]bool{}}
				if c.User == "" {
					c.User = rev.UserID.String()
				}
				if m := rollbackDesc.FindStringSubmatch(desc); m != nil {
					c.rollbackTo, _ = strconv.Atoi(m[1])
				}
				byKey[key] = c
				changes = append(changes, c)
			}
			if rev.CreatedAt.Before(c.Time) {
				c.Time = rev.CreatedAt
			}
			// A run that wrote a unit twice (blue-green) is summarised at its last revision.
			c.Units[unit] = max(c.Units[unit], rev.RevisionNum)
			if n, ok := firstRelease[unit+"@"+strconv.FormatInt(rev.RevisionNum, 10)]; ok && (c.Release == 0 || n < c.Release) {
				c.Release = n
			}
			if i == 0 {
				c.created[unit] = true
				c.Fields = append(c.Fields, unit+": created")
			} else if !c.created[unit] {
				fields, err := r.fieldSummary(ctx, h, unit, revs, i)
				if err != nil {
					return nil, err
				}
				c.Fields = append(c.Fields, fields...)
			}
			if ev, ok := applied[rev.RevisionNum]; ok {
				if ev.TerminatedAt.After(c.AppliedAt) {
					c.AppliedAt = ev.TerminatedAt
				}
				if c.Result == "" || ev.Result != confighub.ResultApplyCompleted {
					c.Result = ev.Result
				}
			}
		}
	}
	markRollbacks(changes, h.releases)
	for _, c := range changes {
		// A change shipped by another run's release (an install, applied
		// later) carries that run's approval: the one that let it go live.
		for _, rel := range h.releases {
			if rel.Number == c.Release && c.ApprovedBy == "" && c.Ticket == "" {
				c.ApprovedBy, c.Ticket, c.Confirmation = rel.Stamp.ApprovedBy, rel.Stamp.Ticket, rel.Stamp.Confirmation
			}
		}
	}
	var out []AuditChange
	for _, c := range changes {
		if (!o.Since.IsZero() && c.Time.Before(o.Since)) || (!o.Until.IsZero() && !c.Time.Before(o.Until)) {
			continue
		}
		// The change's own run, then the run that shipped it (an install's
		// release is recorded by a later apply): the first that has it here
		// gives the run file, the confirmation and the gate verdicts.
		runs := []string{c.RunID}
		for _, rel := range h.releases {
			if rel.Number == c.Release {
				runs = append(runs, rel.Stamp.RunID)
			}
		}
		for _, run := range runs {
			joinLocal(c, o.Local[run])
		}
		out = append(out, *c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// joinLocal adds what a run's local records say and the change lacks.
func joinLocal(c *AuditChange, recs []audit.Stored) {
	var gates []string
	for _, rec := range recs {
		if c.LocalLog == "" {
			c.LocalLog = rec.File
		}
		switch rec.Action {
		case "confirm":
			if c.Confirmation == "" {
				c.Confirmation = rec.Detail
			}
		case "health-gate":
			gates = append(gates, rec.Detail)
		}
	}
	if len(c.Gates) == 0 {
		c.Gates = gates
	}
}

// applyEvents returns a unit's apply events by the revision they applied,
// the latest one of each revision.
func (r *Rollout) applyEvents(ctx context.Context, h *spaceHistory, unit string) (map[int64]confighub.UnitEvent, error) {
	u := h.units[unit].Unit
	evs, err := r.Hub.ListUnitEvents(ctx, h.space.SpaceID, u.UnitID, "")
	if err != nil {
		return nil, fmt.Errorf("list the events of %s/%s: %w", h.space.Slug, unit, err)
	}
	out := map[int64]confighub.UnitEvent{}
	for _, ev := range evs {
		if ev.Action != confighub.ActionApply || !ev.IsTerminal() {
			continue
		}
		if prev, ok := out[ev.RevisionNum]; !ok || ev.TerminatedAt.After(prev.TerminatedAt) {
			out[ev.RevisionNum] = ev
		}
	}
	return out, nil
}

// fieldSummary lists what revision i (> 0) of a unit changed against the
// one before it.
func (r *Rollout) fieldSummary(ctx context.Context, h *spaceHistory, unit string, revs []confighub.Revision, i int) ([]string, error) {
	u := h.units[unit].Unit
	from, err := r.revisionBytes(ctx, h.space.SpaceID, u.UnitID, &revs[i-1])
	if err != nil {
		return nil, err
	}
	to, err := r.revisionBytes(ctx, h.space.SpaceID, u.UnitID, &revs[i])
	if err != nil {
		return nil, err
	}
	changes, err := diff.Fields(from, to)
	if err != nil {
		return []string{fmt.Sprintf("%s: (data not comparable: %v)", unit, err)}, nil
	}
	var out []string
	for j, c := range changes {
		if j == maxFieldsPerUnit {
			out = append(out, fmt.Sprintf("%s: … %d more", unit, len(changes)-j))
			break
		}
		field := c.Field
		if field == "" {
			field = c.Object
		}
		out = append(out, fmt.Sprintf("%s: %s %s → %s", unit, field, show(c.From), show(c.To)))
	}
	return out, nil
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// markRollbacks sets RolledBackBy on every change a later rollback undid:
// a change is undone when the rollback restored one of its units to the
// revision of a release older than the change's revision.
func markRollbacks(changes []*AuditChange, releases []ReleaseInfo) {
	byNumber := map[int]ReleaseInfo{}
	for _, rel := range releases {
		byNumber[rel.Number] = rel
	}
	for _, rb := range changes {
		target, ok := byNumber[rb.rollbackTo]
		if rb.rollbackTo == 0 || !ok {
			continue
		}
		label := fmt.Sprintf("%s at %s", rb.Change, rb.Time.UTC().Format(time.RFC3339))
		if rb.Release > 0 {
			label = fmt.Sprintf("release %d (%s)", rb.Release, rb.Change)
		}
		for _, c := range changes {
			if c == rb || c.RolledBackBy != "" || !c.Time.Before(rb.Time) {
				continue
			}
			for unit, n := range c.Units {
				if restored, ok := rb.Units[unit]; ok && n < restored && n > target.Units[unit] {
					c.RolledBackBy = label
					break
				}
			}
		}
	}
}

// AuditColumns are the columns of the audit's table and CSV.
var AuditColumns = []string{"TIME", "USER", "CHANGE", "RUN", "APPROVED-BY", "TICKET", "RELEASE", "UNITS", "FIELDS",
	"APPLIED", "RESULT", "ROLLED-BACK-BY", "CONFIRMATION", "HEALTH-GATES"}

// Row is the change as the table and CSV show it; multi-valued columns are
// joined by "; ".
func (c AuditChange) Row() []string {
	rel, applied := "", ""
	if c.Release > 0 {
		rel = strconv.Itoa(c.Release)
	}
	if !c.AppliedAt.IsZero() {
		applied = c.AppliedAt.UTC().Format(time.RFC3339)
	}
	return []string{c.Time.UTC().Format(time.RFC3339), c.User, c.Change, c.RunID, c.ApprovedBy, c.Ticket, rel,
		strings.Join(c.UnitsAt(), " "), strings.Join(c.Fields, "; "), applied, c.Result, c.RolledBackBy, c.Confirmation,
		strings.Join(c.Gates, "; ")}
}
