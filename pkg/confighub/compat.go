package confighub

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/google/uuid"
)

// Two shapes of the unit API are in use (docs/confighub.md, "The newest
// API"). Servers built from confighub/sdk up to c110dd78 send a unit's Data
// inline and track LiveRevisionNum, LastAppliedRevisionNum and
// PreviousLiveRevisionNum. Servers built from 41892a1 send none of these:
// a Unit carries DataSize, DataHash and HeadRevisionID, its data is read from
// GET U/data (DownloadUnitData), a revision's from GET U/revision/R/data, and
// the only deployed revision is LastReleasedRevisionNum, which that spec
// itself reads as the applied one ("Unapplied units can be found using
// LastReleasedRevisionNum = 0"). The client keeps one set of Go types for its
// callers and fills them from whichever shape the server sends:
//
//   - Data is fetched from the data route only when a single unit or
//     revision is read (GetUnit, GetRevision, GetRevisionByNum) and the answer
//     has DataSize but no Data. Lists never fetch data: ReadSpace and the
//     other list readers cost the same requests on both shapes.
//   - LiveRevisionNum (and LiveRevision) are taken from LastReleasedRevisionNum
//     (LastReleasedRevision) when the server sent only those.
//   - The include keys the newest spec dropped are mapped on the first 400
//     that asks for them, and from then on for this client.

// IncludeLastReleasedRevision is the newest servers' include key for
// ExtendedUnit.LastReleasedRevision.
const IncludeLastReleasedRevision = "LastReleasedRevisionNum"

// releaseInclude maps unit include keys to what the newest spec accepts
// (41892a1 lists ApprovedBy, BridgeWorkerID, ChangeSetID, FromLinkID,
// HeadMutationNum, HeadRevisionNum, LastReleasedRevisionNum, OrganizationID,
// SpaceID, TargetID, UnitEventID, UpstreamSpaceID, UpstreamUnitID). It
// reports whether anything changed.
func releaseInclude(include []string) ([]string, bool) {
	out := make([]string, 0, len(include))
	changed := false
	for _, k := range include {
		switch k {
		case IncludeLiveRevision:
			k, changed = IncludeLastReleasedRevision, true
		case IncludeLastAppliedRevision, IncludePreviousLiveRevision:
			changed = true
			continue // no counterpart
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, changed
}

// listUnits GETs a unit list with include, falling back to the newest
// spec's include keys when the server rejects the older ones.
func (c *Client) listUnits(ctx context.Context, path, where string, include []string) ([]ExtendedUnit, error) {
	if c.releaseShape.Load() {
		include, _ = releaseInclude(include)
	}
	q, err := listQuery(where, include...)
	if err != nil {
		return nil, err
	}
	var out []ExtendedUnit
	err = c.get(ctx, path, q, &out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && !c.releaseShape.Load() {
		if mapped, changed := releaseInclude(include); changed {
			q, _ := listQuery(where, mapped...)
			var again []ExtendedUnit
			if c.get(ctx, path, q, &again) == nil {
				c.log.Debug("confighub: the server takes the newest include keys; using them from now on", "path", path)
				c.releaseShape.Store(true)
				out, err = again, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].adoptReleaseShape()
	}
	return out, nil
}

// adoptReleaseShape fills the live revision of a unit from a newest
// server's answer; a no-op on older servers, which never send
// LastReleasedRevisionNum.
func (u *Unit) adoptReleaseShape() {
	if u != nil && u.LiveRevisionNum == 0 && u.LastReleasedRevisionNum > 0 {
		u.LiveRevisionNum = u.LastReleasedRevisionNum
	}
}

func (e *ExtendedUnit) adoptReleaseShape() {
	e.Unit.adoptReleaseShape()
	e.UpstreamUnit.adoptReleaseShape()
	if e.LiveRevision == nil && e.LastReleasedRevision != nil {
		e.LiveRevision = e.LastReleasedRevision
	}
}

// UnitData returns a unit's head data as raw bytes (GET U/data,
// DownloadUnitData). Newest servers send data only this way.
func (c *Client) UnitData(ctx context.Context, spaceID, unitID uuid.UUID) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: unitPath(spaceID, unitID) + "/data"})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// fillUnitData reads the data a newest server left out of the unit.
func (c *Client) fillUnitData(ctx context.Context, u *Unit) error {
	if len(u.Data) > 0 || u.DataSize == 0 {
		return nil
	}
	data, err := c.UnitData(ctx, u.SpaceID, u.UnitID)
	if err != nil {
		return err
	}
	u.Data = data
	return nil
}

// fillRevisionData reads the data a newest server left out of the revision.
func (c *Client) fillRevisionData(ctx context.Context, spaceID, unitID uuid.UUID, r *Revision) error {
	if len(r.Data) > 0 || r.DataSize == 0 {
		return nil
	}
	data, err := c.GetRevisionData(ctx, spaceID, unitID, r.RevisionID)
	if err != nil {
		return err
	}
	r.Data = data
	return nil
}
