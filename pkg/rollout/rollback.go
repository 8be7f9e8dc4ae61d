package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// RollbackOptions select the release to go back to and how.
type RollbackOptions struct {
	// Release is the release number to restore; 0 means the previous one:
	// the latest release if the environment changed since, else the one
	// before it.
	Release int
	// Services limits the rollback to these services' units (partial).
	Services []string
	DryRun   bool
	// Apply tunes the ordered apply that follows the restores (Reverse and
	// ChangeDesc are set by Rollback).
	Apply ApplyOptions
}

// Outcomes of a unit in a rollback.
const (
	RollbackRestored  = "restored"
	RollbackUnchanged = "already at target"
	RollbackPlanned   = "would restore"
	RollbackFailed    = "restore failed"
	RollbackNotInRel  = "not in release (left alone)"
)

// RollbackUnit is one unit of a rollback: its head revision before and the
// revision whose data it gets.
type RollbackUnit struct {
	Unit    string `json:"unit"`
	From    int64  `json:"from"`
	To      int64  `json:"to"`
	NewHead int64  `json:"newHead,omitempty"`
	Outcome string `json:"outcome"`
	Applied string `json:"applied,omitempty"`
}

// RollbackResult is the account of a rollback.
type RollbackResult struct {
	Environment string         `json:"environment"`
	Target      ReleaseInfo    `json:"target"`
	Units       []RollbackUnit `json:"units"`
	Apply       *ApplyResult   `json:"apply,omitempty"`
	// Verdict is the health of the environment after the rollback.
	Verdict check.Verdict `json:"verdict,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	DryRun  bool          `json:"dryRun,omitempty"`
}

// Rollback brings an environment back to a recorded release: every unit of
// the release (namespace, policies, Deployments, Services, ingress) is
// restored — a new head revision carrying the release's data, so a later
// apply cannot bring the bad revision back — then applied in reverse
// dependency order with a health gate per tier, and the environment's health
// is judged as a whole. Units whose head already holds the release's data are
// not restored again, so an interrupted rollback is completed by re-running
// it. A rollback that applied anything records a release "rollback to N".
func (r *Rollout) Rollback(ctx context.Context, env traderx.Environment, o RollbackOptions) (*RollbackResult, error) {
	if _, err := traderx.LookupServices(o.Services); err != nil {
		return nil, &InputError{Err: err}
	}
	sp, err := r.Space(ctx, env)
	if err != nil {
		return nil, err
	}
	h, err := r.readHistory(ctx, sp, env, o.Services)
	if err != nil {
		return nil, err
	}
	n := o.Release
	if n == 0 && len(h.releases) > 0 {
		// "The previous release" is the latest one when the environment has
		// moved past it (a failed apply records no release), else the one
		// before it.
		latest := &h.releases[len(h.releases)-1]
		at, err := r.atRelease(ctx, h, latest)
		if err != nil {
			return nil, err
		}
		if !at {
			n = latest.Number
		}
	}
	target, err := pickRelease(env, h.releases, n)
	if err != nil {
		return nil, err
	}
	res := &RollbackResult{Environment: env.Name, Target: *target, DryRun: o.DryRun}
	if !o.DryRun {
		if err := r.CheckReady(ctx, h.space, env); err != nil {
			return nil, err
		}
		if _, err := r.user(ctx); err != nil {
			return nil, err
		}
	}
	desc := fmt.Sprintf("rollback to release %d", target.Number)
	units := make([]string, 0, len(h.units))
	for u := range h.units {
		units = append(units, u)
	}
	sort.Strings(units)
	var restoreErr error
	for _, unit := range units {
		eu := h.units[unit]
		ru := RollbackUnit{Unit: unit, From: eu.Unit.HeadRevisionNum}
		rev := target.revisions[unit]
		if rev == nil {
			ru.Outcome = RollbackNotInRel
			res.Units = append(res.Units, ru)
			continue
		}
		ru.To = rev.RevisionNum
		if restoreErr != nil {
			ru.Outcome = UnitUntouchd
			res.Units = append(res.Units, ru)
			continue
		}
		same, err := r.sameData(ctx, h, eu, rev)
		switch {
		case err != nil:
			restoreErr = err
			ru.Outcome = RollbackFailed
		case same:
			ru.Outcome = RollbackUnchanged
		case o.DryRun:
			ru.Outcome = RollbackPlanned
		default:
			start := r.clock().Now()
			nu, err := r.Hub.PatchUnit(ctx, h.space.SpaceID, eu.Unit.UnitID,
				map[string]any{"LastChangeDescription": r.describe(desc)}, confighub.UnitUpdateParams{RevisionID: rev.RevisionID})
			r.record("restore-unit", env.Name, []string{h.space.Slug + "/" + unit}, revOf(h.space.Slug, unit, nu), start, err)
			if err != nil {
				restoreErr = fmt.Errorf("restore %s/%s to revision %d: %w", h.space.Slug, unit, rev.RevisionNum, err)
				ru.Outcome = RollbackFailed
				break
			}
			ru.Outcome, ru.NewHead = RollbackRestored, nu.HeadRevisionNum
			r.log().Info(fmt.Sprintf("%s: restored %s: revision %d → new head %d with the data of revision %d (release %d)",
				env.Name, unit, ru.From, ru.NewHead, ru.To, target.Number))
		}
		res.Units = append(res.Units, ru)
	}
	if restoreErr != nil {
		return res, &RollbackError{Err: restoreErr, Result: res}
	}
	if o.DryRun {
		return res, nil
	}
	ao := o.Apply
	ao.Services, ao.Reverse, ao.ChangeDesc = o.Services, true, desc
	if ao.Resume == "" {
		ao.Resume = r.next(hint.Rollback(env.Name, target.Number, o.Services...))
	}
	ar, err := r.applyIn(ctx, h.space, env, ao)
	res.Apply = ar
	markApplied(res, ar)
	// The apply ends with the verdict on the environment; an unhealthy one
	// is the rollback's result, not a stop part way.
	var ve *VerdictError
	if err != nil && !errors.As(err, &ve) {
		return res, &RollbackError{Err: err, Result: res}
	}
	res.Verdict, res.Reason = ar.Verdict, ar.Reason
	return res, nil
}

// RollbackError is a rollback that stopped part way; Result says exactly
// which units were restored and applied, so the operator knows the state and
// a re-run completes it.
type RollbackError struct {
	Err    error
	Result *RollbackResult
}

func (e *RollbackError) Error() string { return e.Err.Error() }
func (e *RollbackError) Unwrap() error { return e.Err }

func markApplied(res *RollbackResult, ar *ApplyResult) {
	if ar == nil {
		return
	}
	outcome := map[string]string{}
	for _, t := range ar.Tiers {
		for _, u := range t.Units {
			outcome[u.Unit] = u.Outcome
		}
	}
	for i := range res.Units {
		if o, ok := outcome[res.Units[i].Unit]; ok {
			res.Units[i].Applied = o
		}
	}
}

// pickRelease finds release n, or the one before the latest when n is 0.
func pickRelease(env traderx.Environment, releases []ReleaseInfo, n int) (*ReleaseInfo, error) {
	if len(releases) == 0 {
		return nil, inputf("%s has no recorded releases yet: every successful `%s` records one", env.Name, hint.Apply(env.Name))
	}
	var nums []string // newest first: the ones a user most likely meant
	for _, r := range slices.Backward(releases) {
		nums = append(nums, fmt.Sprint(r.Number))
	}

	if n == 0 {
		if len(releases) < 2 {
			return nil, inputf("%s has only release %d: there is no previous release to roll back to", env.Name, releases[0].Number)
		}
		return &releases[len(releases)-2], nil
	}
	for i := range releases {
		if releases[i].Number == n {
			return &releases[i], nil
		}
	}
	return nil, inputf("%s has no release %d (releases: %s); see `%s`", env.Name, n, check.Examples(nums), hint.History(env.Name))
}

// atRelease reports whether every unit of the release holds its data at head.
func (r *Rollout) atRelease(ctx context.Context, h *spaceHistory, rel *ReleaseInfo) (bool, error) {
	for unit, rev := range rel.revisions {
		eu := h.units[unit]
		if eu == nil {
			continue
		}
		same, err := r.sameData(ctx, h, eu, rev)
		if err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

// sameData reports whether the unit's head already holds the revision's data.
func (r *Rollout) sameData(ctx context.Context, h *spaceHistory, eu *confighub.ExtendedUnit, rev *confighub.Revision) (bool, error) {
	if eu.Unit.HeadRevisionNum == rev.RevisionNum {
		return true, nil
	}
	head := revisionData(h.revisions[eu.Unit.Slug], eu.Unit.HeadRevisionNum)
	target, err := r.revisionBytes(ctx, h.space.SpaceID, eu.Unit.UnitID, rev)
	if err != nil {
		return false, err
	}
	if head == nil || target == nil {
		full, err := r.Hub.GetUnit(ctx, h.space.SpaceID, eu.Unit.UnitID)
		if err != nil {
			return false, err
		}
		head = full.Unit.Data
	}
	if target == nil {
		return false, errors.New("revision data unavailable for " + eu.Unit.Slug)
	}
	a, errA := canonical(head)
	b, errB := canonical(target)
	if errA != nil || errB != nil {
		return bytes.Equal(head, target), nil
	}
	return bytes.Equal(a, b), nil
}

func revisionData(revs []confighub.Revision, num int64) []byte {
	for _, r := range revs {
		if r.RevisionNum == num {
			return r.Data
		}
	}
	return nil
}
