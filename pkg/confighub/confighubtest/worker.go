package confighubtest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// queueOp validates and queues an apply or refresh of rec.
func (s *Server) queueOp(rec *unitRec, action, revSpec string) (*confighub.QueuedOperation, error) {
	if rec.u.TargetID == uuid.Nil {
		return nil, errf(http.StatusUnprocessableEntity, "unit %s has no target: set TargetID (cub unit set-target) before %s",
			rec.u.Slug, strings.ToLower(action))
	}
	t := s.targets[rec.u.TargetID]
	if t == nil {
		return nil, errf(http.StatusUnprocessableEntity, "unit %s: target %s does not exist", rec.u.Slug, rec.u.TargetID)
	}
	if action == confighub.ActionApply && len(rec.u.ApplyGates) > 0 {
		var gates []string
		for g := range rec.u.ApplyGates {
			gates = append(gates, g)
		}
		return nil, errf(http.StatusUnprocessableEntity, "unit %s is gated: %s", rec.u.Slug, strings.Join(gates, ", "))
	}
	num := rec.u.HeadRevisionNum
	if revSpec != "" {
		rev, err := s.resolveRevision(rec, revSpec)
		if err != nil {
			return nil, err
		}
		num = rev.RevisionNum
	}
	op := &confighub.QueuedOperation{QueuedOperationID: uuid.New(), OrganizationID: s.orgID, Action: action,
		UnitID: rec.u.UnitID, SpaceID: rec.u.SpaceID, TargetID: t.TargetID, BridgeWorkerID: t.BridgeWorkerID,
		RevisionNum: num, Status: confighub.StatusPending, CreatedAt: s.now()}
	s.queue = append(s.queue, op)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return op, nil
}

func (s *Server) applyUnit(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	op, err := s.queueOp(rec, confighub.ActionApply, r.URL.Query().Get("revision"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, *op, nil
}

func (s *Server) refreshUnit(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	op, err := s.queueOp(rec, confighub.ActionRefresh, "")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, *op, nil
}

func (s *Server) bulkApply(r *http.Request) (int, any, error) {
	recs, err := s.bulkUnits(r)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.UnitActionResponse{}
	failed := false
	for _, rec := range recs {
		op, err := s.queueOp(rec, confighub.ActionApply, r.URL.Query().Get("revision"))
		if err != nil {
			failed = true
			out = append(out, confighub.UnitActionResponse{Error: bulkElementError(err, rec)})
			continue
		}
		out = append(out, confighub.UnitActionResponse{Action: op})
	}
	return bulkStatus(failed), out, nil
}

func (s *Server) emit(rec *unitRec, op *confighub.QueuedOperation, status, result, msg string, started time.Time) *confighub.UnitEvent {
	now := s.now()
	ev := &confighub.UnitEvent{UnitEventID: uuid.New(), QueuedOperationID: op.QueuedOperationID, OrganizationID: s.orgID,
		UnitID: rec.u.UnitID, SpaceID: rec.u.SpaceID, BridgeWorkerID: op.BridgeWorkerID, Action: op.Action,
		Status: status, Result: result, RevisionNum: op.RevisionNum, Message: msg, StartedAt: started, CreatedAt: now}
	if status != confighub.StatusProgressing {
		ev.TerminatedAt = now
	}
	rec.events = append(rec.events, ev)
	return ev
}

func (s *Server) worker() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			s.mu.Lock()
			s.queue = nil
			s.idle.Broadcast()
			s.mu.Unlock()
			return
		case <-s.wake:
		}
		for s.ctx.Err() == nil {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.busy = false
				s.idle.Broadcast()
				s.mu.Unlock()
				break
			}
			op := s.queue[0]
			s.queue = s.queue[1:]
			s.busy = true
			s.mu.Unlock()
			s.process(op)
		}
	}
}

func (s *Server) process(op *confighub.QueuedOperation) {
	s.mu.Lock()
	rec := s.units[op.UnitID]
	if rec == nil {
		s.mu.Unlock()
		return
	}
	started := s.now()
	if op.Action == confighub.ActionApply {
		rec.u.LastAppliedRevisionNum = op.RevisionNum
	}
	rec.u.LastActionAt = started
	s.emit(rec, op, confighub.StatusProgressing, confighub.ResultNone, fmt.Sprintf("%s of revision %d in progress", op.Action, op.RevisionNum), started)
	rec.status = confighub.UnitStatus{Action: op.Action, ActionResult: confighub.ResultNone, ActionStartedAt: started, Status: confighub.StatusProgressing}
	var data []byte
	if n := op.RevisionNum; n > 0 && n <= int64(len(rec.revs)) {
		data = rec.revs[n-1].Data
	}
	unit := rec.u
	var target confighub.Target
	if t := s.targets[op.TargetID]; t != nil {
		target = *t
	}
	delay := s.workerDelay
	var injected error
	if f := s.failApplies[rec.u.Slug]; f != nil && op.Action == confighub.ActionApply {
		injected = errors.New(f.message)
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				delete(s.failApplies, rec.u.Slug)
			}
		}
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	var live []byte
	err := injected
	if err == nil && op.Action == confighub.ActionApply {
		live, err = s.applier.Apply(s.ctx, target, unit, data)
	}
	if err != nil {
		s.log.Info("confighubtest: operation failed", "action", op.Action, "unit", unit.Slug, "revision", op.RevisionNum, "error", err)
	} else {
		s.log.Info("confighubtest: operation completed", "action", op.Action, "unit", unit.Slug, "revision", op.RevisionNum)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rec = s.units[op.UnitID]
	if rec == nil {
		return
	}
	now := s.now()
	switch {
	case err != nil:
		result := confighub.ResultApplyFailed
		if op.Action == confighub.ActionRefresh {
			result = confighub.ResultRefreshFailed
		}
		s.emit(rec, op, confighub.StatusFailed, result, err.Error(), started)
		rec.status = confighub.UnitStatus{Action: op.Action, ActionResult: result, ActionStartedAt: started, ActionTerminatedAt: now, Status: "Error"}
	case op.Action == confighub.ActionRefresh:
		s.emit(rec, op, confighub.StatusCompleted, confighub.ResultRefreshAndNoDrift, "no drift", started)
		rec.status = confighub.UnitStatus{Action: op.Action, ActionResult: confighub.ResultRefreshAndNoDrift, ActionStartedAt: started,
			ActionTerminatedAt: now, Status: "Ready", Drift: "NoDrift"}
	default:
		rec.u.PreviousLiveRevisionNum = rec.u.LiveRevisionNum
		rec.u.LiveRevisionNum = op.RevisionNum
		rec.u.LiveState = live
		if n := op.RevisionNum; n > 0 && n <= int64(len(rec.revs)) {
			rec.revs[n-1].LiveAt = now
		}
		rec.u.Version++ // action status is another writer: stale PUTs meet a 409
		rec.u.UpdatedAt = now
		s.emit(rec, op, confighub.StatusCompleted, confighub.ResultApplyCompleted, fmt.Sprintf("applied revision %d", op.RevisionNum), started)
		rec.status = confighub.UnitStatus{Action: op.Action, ActionResult: confighub.ResultApplyCompleted, ActionStartedAt: started,
			ActionTerminatedAt: now, Status: "Ready", Drift: "NoDrift"}
	}
}
