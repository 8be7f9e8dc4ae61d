package confighub

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// SpaceReader is what reading a space's units needs; *Client implements it
// and tests substitute the stand-in or a fake.
type SpaceReader interface {
	GetSpaceBySlug(ctx context.Context, slug string) (*Space, error)
	ListUnits(ctx context.Context, spaceID uuid.UUID, where string, include ...string) ([]ExtendedUnit, error)
	ListAllUnitEvents(ctx context.Context, where string) ([]UnitEvent, error)
}

// SpaceState is a space and its units, by slug.
type SpaceState struct {
	Slug  string
	Found bool
	Units map[string]ExtendedUnit
	// Drift of each unit, by slug, from its latest refresh.
	Drift map[string]Drift
}

// ReadSpace reads a space and all its units with their latest event, live
// revision and drift (from each unit's latest refresh). A missing space is
// reported through Found, not as an error; any other failure (unreachable,
// unauthorized) is returned.
func ReadSpace(ctx context.Context, r SpaceReader, slug string) (*SpaceState, error) {
	sp, err := r.GetSpaceBySlug(ctx, slug)
	switch {
	case IsNotFound(err):
		return &SpaceState{Slug: slug, Units: map[string]ExtendedUnit{}, Drift: map[string]Drift{}}, nil
	case err != nil:
		return nil, fmt.Errorf("read ConfigHub space %s: %w", slug, err)
	}
	return ReadSpaceUnits(ctx, r, sp)
}

// ReadSpaceUnits is ReadSpace of a space the caller has read already.
func ReadSpaceUnits(ctx context.Context, r SpaceReader, sp *Space) (*SpaceState, error) {
	slug := sp.Slug
	st := &SpaceState{Slug: slug, Found: true, Units: map[string]ExtendedUnit{}, Drift: map[string]Drift{}}
	units, err := r.ListUnits(ctx, sp.SpaceID, "", "UnitEventID", "LiveRevisionNum")
	if err != nil {
		return nil, fmt.Errorf("list units of ConfigHub space %s: %w", slug, err)
	}
	refreshes, err := r.ListAllUnitEvents(ctx, fmt.Sprintf("SpaceID = '%s' AND Action = '%s'", sp.SpaceID, ActionRefresh))
	if err != nil {
		return nil, fmt.Errorf("list refresh events of ConfigHub space %s: %w", slug, err)
	}
	last := map[uuid.UUID]*UnitEvent{}
	for i := range refreshes {
		last[refreshes[i].UnitID] = &refreshes[i]
	}
	for _, u := range units {
		if u.Unit != nil {
			st.Units[u.Unit.Slug] = u
			st.Drift[u.Unit.Slug] = DriftOf(&u, last[u.Unit.UnitID])
		}
	}
	return st, nil
}
