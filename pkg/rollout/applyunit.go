package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// applyUnit applies one unit and waits for it, retrying with backoff.
func (r *Rollout) applyUnit(ctx context.Context, sp *confighub.Space, env traderx.Environment, p planned, o ApplyOptions) (int64, int, error) {
	delay := o.RetryDelay
	for attempt := 1; ; attempt++ {
		start := r.clock().Now()
		rev, err := r.applyOnce(ctx, sp, p, o)
		r.record("apply", env.Name, []string{p.name}, map[string]int64{p.name: rev}, start, err)
		if err == nil {
			r.log().Debug(fmt.Sprintf("tier %d: applied %s revision %d", p.tier, p.name, rev))
			return rev, attempt, nil
		}
		if attempt > o.Retries || !retryable(err) || ctx.Err() != nil {
			r.log().Error(fmt.Sprintf("tier %d: apply of %s failed after %d attempt(s): %s", p.tier, p.name, attempt, cause(err)))
			return rev, attempt, err
		}
		r.log().Warn(fmt.Sprintf("tier %d: apply of %s failed (attempt %d of %d): %s; retrying in %s",
			p.tier, p.name, attempt, o.Retries+1, cause(err), delay))
		if err := r.clock().Sleep(ctx, delay); err != nil {
			return rev, attempt, err
		}
		delay *= 2
	}
}

// applyOnce queues an apply and waits for it. When the answer to the apply
// request was lost, the unit's events tell whether it was queued: then that
// operation is waited for instead of applying twice.
func (r *Rollout) applyOnce(ctx context.Context, sp *confighub.Space, p planned, o ApplyOptions) (int64, error) {
	id := p.eu.Unit.UnitID
	before, err := r.Hub.ListUnitEvents(ctx, sp.SpaceID, id, "")
	if err != nil {
		return 0, err
	}
	known := map[uuid.UUID]bool{}
	for _, e := range before {
		known[e.QueuedOperationID] = true
	}
	if p.repair == "" && completedMeanwhile(before, p.eu.Unit.HeadRevisionNum) {
		// The plan read the unit before an apply in flight then completed.
		r.log().Info(fmt.Sprintf("tier %d: the apply of %s revision %d in progress when the run began has completed",
			p.tier, p.name, p.eu.Unit.HeadRevisionNum))
		return p.eu.Unit.HeadRevisionNum, nil
	}
	if op := applyInProgress(before, p.eu.Unit.HeadRevisionNum); op != nil && r.orphaned(ctx, sp, op) {
		r.log().Warn(fmt.Sprintf("tier %d: the apply of %s revision %d (operation %s) was cut off: its worker has reconnected since it began; applying again",
			p.tier, p.name, op.RevisionNum, op.QueuedOperationID))
	} else if op != nil {
		r.log().Info(fmt.Sprintf("tier %d: an apply of %s revision %d is already in progress (operation %s); waiting for it instead of queuing another",
			p.tier, p.name, op.RevisionNum, op.QueuedOperationID))
		op.UnitID, op.SpaceID = id, sp.SpaceID
		return r.waitApplied(ctx, sp, p, op, o)
	}
	op, err := r.Hub.Apply(ctx, sp.SpaceID, id)
	if errors.Is(err, confighub.ErrApplyOutcomeUnknown) {
		if found := r.queuedMeanwhile(ctx, sp, p, known); found != nil {
			r.log().Warn(fmt.Sprintf("tier %d: the answer to the apply of %s was lost, but it was queued (operation %s); waiting for it",
				p.tier, p.name, found.QueuedOperationID))
			op, err = found, nil
		}
	}
	if err != nil {
		return 0, err
	}
	return r.waitApplied(ctx, sp, p, op, o)
}

// queuedMeanwhile finds the apply whose answer was lost. The server marks the
// unit's LastAppliedRevisionNum when it queues an apply, but the first event
// appears only when the worker reports, so the events are read a few times
// while the unit says an apply of its head was issued.
func (r *Rollout) queuedMeanwhile(ctx context.Context, sp *confighub.Space, p planned, known map[uuid.UUID]bool) *confighub.QueuedOperation {
	id := p.eu.Unit.UnitID
	for range 5 {
		evs, err := r.Hub.ListUnitEvents(ctx, sp.SpaceID, id, "")
		if err != nil {
			return nil
		}
		for _, e := range evs {
			if !known[e.QueuedOperationID] && e.Action == confighub.ActionApply {
				return &confighub.QueuedOperation{QueuedOperationID: e.QueuedOperationID, Action: e.Action,
					UnitID: id, SpaceID: sp.SpaceID, RevisionNum: e.RevisionNum}
			}
		}
		eu, err := r.Hub.GetUnit(ctx, sp.SpaceID, id)
		if err != nil || eu.Unit.LastAppliedRevisionNum != p.eu.Unit.HeadRevisionNum {
			return nil // not issued: apply again
		}
		if r.clock().Sleep(ctx, 300*time.Millisecond) != nil {
			return nil
		}
	}
	return nil
}

// waitApplied waits up to the timeout for an apply to complete. An apply
// still Progressing then is not failed nor queued again: the worker keeps
// waiting for readiness and retrying, and the caller says why it is stuck.
func (r *Rollout) waitApplied(ctx context.Context, sp *confighub.Space, p planned, op *confighub.QueuedOperation, o ApplyOptions) (int64, error) {
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if _, err := r.Hub.WaitForOperation(wctx, sp.SpaceID, p.eu.Unit.UnitID, op); err != nil {
		if errors.Is(wctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return op.RevisionNum, &inProgressError{unit: p.name, revision: op.RevisionNum, timeout: o.Timeout, err: err}
		}
		return op.RevisionNum, err
	}
	return op.RevisionNum, nil
}

// applyInProgress returns the unit's apply of revision rev that has no
// terminal event yet, if any: waiting for it beats queuing a duplicate. The
// operation's worker and the time its first event was recorded come along
// for orphaned.
func applyInProgress(evs []confighub.UnitEvent, rev int64) *confighub.QueuedOperation {
	done := map[uuid.UUID]bool{}
	for _, e := range evs {
		if e.IsTerminal() {
			done[e.QueuedOperationID] = true
		}
	}
	var op *confighub.QueuedOperation
	for _, e := range evs {
		if e.Action != confighub.ActionApply || e.RevisionNum != rev || done[e.QueuedOperationID] {
			continue
		}
		switch {
		case op == nil:
			op = &confighub.QueuedOperation{QueuedOperationID: e.QueuedOperationID, Action: e.Action, RevisionNum: e.RevisionNum,
				BridgeWorkerID: e.BridgeWorkerID, CreatedAt: e.CreatedAt}
		case op.QueuedOperationID == e.QueuedOperationID && e.CreatedAt.Before(op.CreatedAt):
			op.CreatedAt = e.CreatedAt
		}
	}
	return op
}

// completedMeanwhile reports whether the unit's latest apply event (by the
// server's CreatedAt) is the completion of revision rev: an apply that was
// still running when the run read the unit and has finished since.
func completedMeanwhile(evs []confighub.UnitEvent, rev int64) bool {
	var last *confighub.UnitEvent
	for i := range evs {
		if e := &evs[i]; e.Action == confighub.ActionApply && (last == nil || !e.CreatedAt.Before(last.CreatedAt)) {
			last = e
		}
	}
	return last != nil && last.RevisionNum == rev && last.IsTerminal() && last.Result == confighub.ResultApplyCompleted
}

// orphaned reports whether an apply still in progress lost its worker: the
// worker has connected again since the operation's first event. A worker
// keeps its operations in memory (the SDK's unit queues), so a restarted
// worker never finishes one it took before; waiting for it would never
// end. Both times are the server's. When in doubt it is not orphaned.
func (r *Rollout) orphaned(ctx context.Context, sp *confighub.Space, op *confighub.QueuedOperation) bool {
	if op.BridgeWorkerID == uuid.Nil || op.CreatedAt.IsZero() {
		return false
	}
	statuses, err := r.Hub.ListBridgeWorkerStatuses(ctx, sp.SpaceID, op.BridgeWorkerID)
	if err != nil {
		return false
	}
	for _, st := range statuses {
		if st.Status == confighub.WorkerStatusConnected && st.SeenAt.After(op.CreatedAt) {
			return true
		}
	}
	return false
}
