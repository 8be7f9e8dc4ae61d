package rollout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// Refresh has ConfigHub's worker compare the live objects of every unit of
// the space with what was applied, as a dry run: it reports drift without
// touching the units' data. (A refresh that is not a dry run would merge the
// live changes into head — adopt the drift — which is the opposite of what an
// operator repairing a cluster wants; apply repairs drift.) It waits up to
// timeout for every refresh and returns each unit's drift by slug.
func (r *Rollout) Refresh(ctx context.Context, sp *confighub.Space, timeout time.Duration) (map[string]confighub.Drift, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ops, err := r.Hub.RefreshUnits(ctx, fmt.Sprintf("SpaceID = '%s' AND LiveRevisionNum > 0", sp.SpaceID), true)
	if err != nil {
		return nil, fmt.Errorf("refresh the units of %s: %w", sp.Slug, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(ops))
	for i, op := range ops {
		if op.Action == nil {
			continue
		}
		wg.Go(func() {
			// A failed refresh is reported per unit by DriftOf, not here.
			_, errs[i] = r.Hub.WaitForOperation(wctx, sp.SpaceID, op.Action.UnitID, op.Action)
		})
	}
	wg.Wait()
	if err := wctx.Err(); err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("refresh of %s did not finish within %s (is its worker connected?): %w", sp.Slug, timeout, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := confighub.ReadSpaceUnits(ctx, r.Hub, sp)
	if err != nil {
		return nil, err
	}
	return st.Drift, nil
}
