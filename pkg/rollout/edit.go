package rollout

import (
	"bytes"
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Edit is one change to the objects of one unit.
type Edit struct {
	Unit string
	// Mutate changes the unit's decoded objects in place.
	Mutate func(objs []*unstructured.Unstructured) error
}

// EditResult says what an edit did (or would do, in a dry run).
type EditResult struct {
	Unit          string `json:"unit"`
	FromRevision  int64  `json:"fromRevision"`
	ToRevision    int64  `json:"toRevision,omitempty"`
	Changed       bool   `json:"changed"`
	Before, After []byte `json:"-"`
}

// EditUnits changes units of an environment, in its space sp, through ConfigHub: each unit's
// head data is decoded, mutated and written back as a new head revision with
// desc as its change description. An edit that changes nothing writes
// nothing, so re-running a command is safe. Nothing is applied; callers run
// Apply afterwards. With dryRun the results carry Before/After for a diff
// and nothing is written.
func (r *Rollout) EditUnits(ctx context.Context, sp *confighub.Space, env traderx.Environment, desc string, dryRun bool, edits ...Edit) ([]EditResult, error) {
	if !dryRun {
		if err := r.CheckReady(ctx, sp, env); err != nil {
			return nil, err
		}
	}
	var out []EditResult
	for _, e := range edits {
		res, err := r.editUnit(ctx, sp, env, desc, dryRun, e)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (r *Rollout) editUnit(ctx context.Context, sp *confighub.Space, env traderx.Environment, desc string, dryRun bool, e Edit) (EditResult, error) {
	eu, err := r.unitBySlug(ctx, sp, e.Unit)
	if err != nil {
		return EditResult{}, err
	}
	u := eu.Unit
	res := EditResult{Unit: e.Unit, FromRevision: u.HeadRevisionNum, Before: u.Data}
	objs, err := manifests.Decode(u.Data)
	if err != nil {
		return res, fmt.Errorf("unit %s/%s revision %d: malformed data: %w", sp.Slug, e.Unit, u.HeadRevisionNum, err)
	}
	if err := e.Mutate(objs); err != nil {
		return res, &InputError{Err: fmt.Errorf("unit %s: %w", e.Unit, err)}
	}
	after, err := manifests.EncodeYAML(objs)
	if err != nil {
		return res, err
	}
	res.After = after
	before, err := canonical(u.Data)
	if err != nil {
		return res, err
	}
	res.Changed = !bytes.Equal(before, after)
	if !res.Changed || dryRun {
		return res, nil
	}
	start := r.clock().Now()
	nu, err := r.Hub.PatchUnit(ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": after, "LastChangeDescription": r.describe(desc)}, confighub.UnitUpdateParams{})
	r.record("edit-unit", env.Name, []string{sp.Slug + "/" + e.Unit}, revOf(sp.Slug, e.Unit, nu), start, err)
	if err != nil {
		return res, fmt.Errorf("update unit %s/%s: %w", sp.Slug, e.Unit, err)
	}
	res.ToRevision = nu.HeadRevisionNum
	r.log().Info(fmt.Sprintf("%s: unit %s revision %d → %d: %s", env.Name, e.Unit, res.FromRevision, res.ToRevision, desc))
	return res, nil
}

// canonical re-encodes unit data the way edits write it, so formatting alone
// never counts as a change.
func canonical(data []byte) ([]byte, error) {
	objs, err := manifests.Decode(data)
	if err != nil {
		return nil, err
	}
	return manifests.EncodeYAML(objs)
}

// Space reads the environment's ConfigHub space; a missing one is input
// the user can fix by installing. A command reads it once and passes it to
// every operation of its run.
func (r *Rollout) Space(ctx context.Context, env traderx.Environment) (*confighub.Space, error) {
	slug := env.Space(r.project())
	sp, err := r.Hub.GetSpaceBySlug(ctx, slug)
	if confighub.IsNotFound(err) {
		return nil, inputf("environment %s is not installed in ConfigHub (space %s not found): run `%s`", env.Name, slug, r.next(hint.Install(env.Name)))
	}
	return sp, err
}

// unitBySlug reads one unit of a space with its data.
func (r *Rollout) unitBySlug(ctx context.Context, sp *confighub.Space, slug string) (*confighub.ExtendedUnit, error) {
	where, err := confighub.Where().Eq("Slug", slug).Build()
	if err != nil {
		return nil, &InputError{Err: err}
	}
	list, err := r.Hub.ListUnits(ctx, sp.SpaceID, where)
	if err != nil {
		return nil, fmt.Errorf("read unit %s/%s: %w", sp.Slug, slug, err)
	}
	if len(list) == 0 || list[0].Unit == nil {
		return nil, inputf("unit %s not found in space %s: run `%s`", slug, sp.Slug, r.next(hint.Install()))

	}
	eu := &list[0]
	if len(eu.Unit.Data) == 0 {
		if eu, err = r.Hub.GetUnit(ctx, sp.SpaceID, eu.Unit.UnitID); err != nil {
			return nil, fmt.Errorf("read unit %s/%s: %w", sp.Slug, slug, err)
		}
	}
	return eu, nil
}
