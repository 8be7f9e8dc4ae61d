package rollout

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// RevisionDataReader reads a revision's data by ID; *confighub.Client
// implements it. Newer ConfigHub servers list revisions without their data
// (only DataSize), so a revision from a list may need it.
type RevisionDataReader interface {
	GetRevisionData(ctx context.Context, spaceID, unitID, revisionID uuid.UUID) ([]byte, error)
}

var _ RevisionDataReader = (*confighub.Client)(nil)

// revisionBytes returns the data of rev, a revision of unitID, reading it
// when the server listed the revision without it.
func (r *Rollout) revisionBytes(ctx context.Context, spaceID, unitID uuid.UUID, rev *confighub.Revision) ([]byte, error) {
	if len(rev.Data) > 0 || rev.DataSize == 0 {
		return rev.Data, nil
	}
	dr, ok := r.Hub.(RevisionDataReader)
	if !ok {
		return nil, fmt.Errorf("rollout: revision %d came without its data and the ConfigHub client (%T) cannot read it", rev.RevisionNum, r.Hub)
	}
	data, err := dr.GetRevisionData(ctx, spaceID, unitID, rev.RevisionID)
	if err != nil {
		return nil, fmt.Errorf("read the data of revision %d: %w", rev.RevisionNum, err)
	}
	return data, nil
}
