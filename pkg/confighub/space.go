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
}

// SpaceState is a space and its units, by slug.
type SpaceState struct {
	Slug  string
	Found bool
	Units map[string]ExtendedUnit
}

// ReadSpace reads a space and all its units with their latest event. A
// missing space is reported through Found, not as an error; any other
// failure (unreachable, unauthorized) is returned.
func ReadSpace(ctx context.Context, r SpaceReader, slug string) (*SpaceState, error) {
	st := &SpaceState{Slug: slug, Units: map[string]ExtendedUnit{}}
	sp, err := r.GetSpaceBySlug(ctx, slug)
	switch {
	case IsNotFound(err):
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("read ConfigHub space %s: %w", slug, err)
	}
	st.Found = true
	units, err := r.ListUnits(ctx, sp.SpaceID, "", "UnitEventID")
	if err != nil {
		return nil, fmt.Errorf("list units of ConfigHub space %s: %w", slug, err)
	}
	for _, u := range units {
		if u.Unit != nil {
			st.Units[u.Unit.Slug] = u
		}
	}
	return st, nil
}
