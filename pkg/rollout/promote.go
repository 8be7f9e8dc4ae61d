package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// PromoteOptions tune a promotion.
type PromoteOptions struct {
	DryRun bool
	// NoApply upgrades the units without applying them.
	NoApply bool
	// Colour renders diffs with colour.
	Colour bool
	// Apply tunes the ordered apply (ChangeDesc is set by Promote).
	Apply ApplyOptions
}

// PromoteUnit is one unit of the target environment and the upstream change
// a promotion merges into it.
type PromoteUnit struct {
	Unit string `json:"unit"`
	// Upstream revisions: the one the unit last took, and the upstream head.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// NewHead is the unit's head after the upgrade.
	NewHead int64         `json:"newHead,omitempty"`
	Diff    string        `json:"diff,omitempty"`
	Changes []diff.Change `json:"changes,omitempty"`
}

// PromoteResult is the account of a promotion.
type PromoteResult struct {
	From  string        `json:"from"`
	To    string        `json:"to"`
	Units []PromoteUnit `json:"units"`
	// UpstreamRelease is the latest release of the source environment.
	UpstreamRelease int          `json:"upstreamRelease,omitempty"`
	Apply           *ApplyResult `json:"apply,omitempty"`
	DryRun          bool         `json:"dryRun,omitempty"`
}

// Promote merges the source environment's changes into the target: the
// target's units must be downstream of the source's (ConfigHub upstream
// links), else nothing happens and the broken link is named. Units whose
// upstream moved are upgraded (ConfigHub merges the upstream change and keeps
// the target's own overrides), then the target is applied in dependency
// order with health gates, recording a release "promote from <from>
// (release M)". Units already at their upstream's head are left alone, so a
// re-run continues an interrupted promotion.
// src and dst are the spaces of from and to.
func (r *Rollout) Promote(ctx context.Context, src, dst *confighub.Space, from, to traderx.Environment, o PromoteOptions) (*PromoteResult, error) {
	res := &PromoteResult{From: from.Name, To: to.Name, DryRun: o.DryRun}
	if err := r.CheckPromotion(from, to); err != nil {
		return nil, err
	}
	if !o.DryRun {
		if err := r.CheckReady(ctx, dst, to); err != nil {
			return nil, err
		}
	}
	srcUnits, err := r.Hub.ListUnits(ctx, src.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", src.Slug, err)
	}
	srcByID := map[uuid.UUID]*confighub.Unit{}
	for _, u := range srcUnits {
		if u.Unit != nil {
			srcByID[u.Unit.UnitID] = u.Unit
		}
	}
	dstUnits, err := r.Hub.ListUnits(ctx, dst.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", dst.Slug, err)
	}
	sort.Slice(dstUnits, func(i, j int) bool { return dstUnits[i].Unit.Slug < dstUnits[j].Unit.Slug })
	var broken []string
	type pending struct {
		unit *confighub.Unit
		up   *confighub.Unit
	}
	var todo []pending
	for _, eu := range dstUnits {
		u := eu.Unit
		up := srcByID[u.UpstreamUnitID]
		if u.UpstreamSpaceID != src.SpaceID || up == nil || up.Slug != u.Slug {
			broken = append(broken, fmt.Sprintf("%s/%s (upstream %s)", dst.Slug, u.Slug, r.describeUpstream(ctx, u)))
			continue
		}
		if u.UpstreamRevisionNum < up.HeadRevisionNum {
			todo = append(todo, pending{u, up})
		}
	}
	if len(broken) > 0 {
		return nil, inputf("refusing to promote %s → %s: %d of %d units of %s are not downstream of %s (%s); `%s` links them again",
			from.Name, to.Name, len(broken), len(dstUnits), dst.Slug, src.Slug, check.Examples(broken), r.next(hint.Install(to.Name)))
	}

	for _, p := range todo {
		pu := PromoteUnit{Unit: p.unit.Slug, From: p.unit.UpstreamRevisionNum, To: p.up.HeadRevisionNum}
		before, err := r.revisionDataByNum(ctx, src, p.up, p.unit.UpstreamRevisionNum)
		if err != nil {
			return nil, err
		}
		after, err := r.revisionDataByNum(ctx, src, p.up, p.up.HeadRevisionNum)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s/%s", src.Slug, p.up.Slug)
		if pu.Diff, err = diff.Unified(fmt.Sprintf("%s@%d", name, pu.From), fmt.Sprintf("%s@%d", name, pu.To), before, after, o.Colour); err != nil {
			return nil, err
		}
		if pu.Changes, err = diff.Fields(before, after); err != nil {
			return nil, err
		}
		res.Units = append(res.Units, pu)
	}
	if rels, err := r.releases(ctx, src, from, 1); err == nil && len(rels) > 0 {
		res.UpstreamRelease = rels[0].Number
	}
	if o.DryRun {
		return res, nil
	}
	if _, err := r.user(ctx); err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("promote from %s", from.Name)
	if res.UpstreamRelease > 0 {
		desc += fmt.Sprintf(" (release %d)", res.UpstreamRelease)
	}
	for i, p := range todo {
		start := r.clock().Now()
		nu, err := r.Hub.PatchUnit(ctx, dst.SpaceID, p.unit.UnitID, map[string]any{"LastChangeDescription": r.describe(desc)}, confighub.UnitUpdateParams{Upgrade: true})
		r.record("upgrade-unit", to.Name, []string{dst.Slug + "/" + p.unit.Slug}, revOf(dst.Slug, p.unit.Slug, nu), start, err)
		if err != nil {
			return res, fmt.Errorf("upgrade %s/%s from %s (%d of %d units upgraded; re-run to continue): %w",
				dst.Slug, p.unit.Slug, src.Slug, i, len(todo), err)
		}
		res.Units[i].NewHead = nu.HeadRevisionNum
	}
	if o.NoApply {
		return res, nil
	}
	ao := o.Apply
	ao.ChangeDesc = desc
	ar, err := r.applyIn(ctx, dst, to, ao)
	res.Apply = ar
	return res, err
}

func (r *Rollout) describeUpstream(ctx context.Context, u *confighub.Unit) string {
	if u.UpstreamSpaceID == uuid.Nil {
		return "none"
	}
	eu, err := r.Hub.GetUnit(ctx, u.UpstreamSpaceID, u.UpstreamUnitID)
	if err != nil || eu.Unit == nil {
		return "space " + u.UpstreamSpaceID.String()
	}
	if eu.Space != nil {
		return eu.Space.Slug + "/" + eu.Unit.Slug
	}
	return eu.Unit.Slug + " in space " + u.UpstreamSpaceID.String()
}

// revisionDataByNum returns the data of a unit's revision n.
func (r *Rollout) revisionDataByNum(ctx context.Context, sp *confighub.Space, u *confighub.Unit, n int64) ([]byte, error) {
	where, err := confighub.Where().Raw(fmt.Sprintf("RevisionNum = %d", n)).Build()
	if err != nil {
		return nil, err
	}
	revs, err := r.Hub.ListRevisions(ctx, sp.SpaceID, u.UnitID, where)
	if err != nil {
		return nil, fmt.Errorf("read revision %d of %s/%s: %w", n, sp.Slug, u.Slug, err)
	}
	if len(revs) == 0 || revs[0].Revision == nil {
		return nil, fmt.Errorf("revision %d of %s/%s not found", n, sp.Slug, u.Slug)
	}
	return r.revisionBytes(ctx, sp.SpaceID, u.UnitID, revs[0].Revision)
}

// CheckPromotion refuses a promotion the environments' upstream links cannot
// carry — only one step down the chain is one — with the chain and what to
// type instead, before anything is read from ConfigHub.
func (r *Rollout) CheckPromotion(from, to traderx.Environment) error {
	if to.Upstream == from.Name {
		return nil
	}
	chain := []string{"base"}
	for _, e := range traderx.Environments() {
		chain = append(chain, e.Name)
	}
	msg := fmt.Sprintf("cannot promote %s into %s: changes move %s, one step at a time; ", from.Name, to.Name, strings.Join(chain, " → "))
	if to.Upstream == "" {
		msg += fmt.Sprintf("%s is the first environment: its units follow base, which `%s` keeps at the model", to.Name, r.next(hint.Install(to.Name)))
	} else {
		msg += fmt.Sprintf("%s takes its changes from %s: `%s`", to.Name, to.Upstream, r.next(hint.Promote(to.Upstream, to.Name)))
	}
	for _, e := range traderx.Environments() {
		if e.Upstream == from.Name && e.Name != to.Name {
			msg += fmt.Sprintf("; %s's changes move on with `%s`", from.Name, r.next(hint.Promote(from.Name, e.Name)))
		}
	}
	return &InputError{Err: errors.New(msg)}
}
