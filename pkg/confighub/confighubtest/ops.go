package confighubtest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// opRec is a queued operation and the worker it was delivered to.
type opRec struct {
	op       confighub.QueuedOperation
	terminal bool
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errf(http.StatusBadRequest, "%s must be true or false, not %q", name, v)
	}
	return b, nil
}

// unavailable is the 422 of a unit action no worker can take (the newest
// OpenAPI spec documents 422 "Bridge worker unavailable" on apply, destroy,
// refresh and import).
func unavailable(format string, args ...any) error {
	return errf(http.StatusUnprocessableEntity, "Bridge worker unavailable: "+format, args...)
}

// queueOp validates a unit action, records a Pending QueuedOperation and
// delivers it over the stream of the target's worker.
func (s *Server) queueOp(rec *unitRec, action string, q url.Values) (*confighub.QueuedOperation, error) {
	dryRun, err := boolParam(q, "dry_run")
	if err != nil {
		return nil, err
	}
	verb := strings.ToLower(action)
	if action == confighub.ActionApply && len(rec.u.ApplyGates) > 0 {
		var gates []string
		for g := range rec.u.ApplyGates {
			gates = append(gates, g)
		}
		return nil, errf(http.StatusUnprocessableEntity, "unit %s is gated: %s", rec.u.Slug, strings.Join(gates, ", "))
	}
	if rec.u.TargetID == uuid.Nil {
		return nil, unavailable("unit %s has no target; set one (cub unit set-target) to a target of a running worker before %s",
			rec.u.Slug, verb)
	}
	t := s.targets[rec.u.TargetID]
	if t == nil {
		return nil, unavailable("unit %s: target %s does not exist", rec.u.Slug, rec.u.TargetID)
	}
	wr := s.workers[t.BridgeWorkerID]
	if wr == nil {
		return nil, unavailable("target %s of unit %s has no bridge worker", t.Slug, rec.u.Slug)
	}
	if wr.conn == nil {
		return nil, unavailable("worker %s of target %s is %s; start it (cub worker run %s) before %s",
			wr.w.Slug, t.Slug, wr.w.Condition, wr.w.Slug, verb)
	}
	num := rec.u.HeadRevisionNum
	if rs := q.Get("revision"); rs != "" && action == confighub.ActionApply {
		rev, err := s.resolveRevision(rec, rs)
		if err != nil {
			return nil, err
		}
		num = rev.RevisionNum
	}
	var data []byte
	if num > 0 && num <= int64(len(rec.revs)) {
		data = rec.revs[num-1].Data
	}
	now := s.now()
	op := confighub.QueuedOperation{QueuedOperationID: uuid.New(), OrganizationID: s.orgID, Action: action,
		UnitID: rec.u.UnitID, SpaceID: rec.u.SpaceID, TargetID: t.TargetID, BridgeWorkerID: wr.w.BridgeWorkerID,
		RevisionNum: num, Status: confighub.StatusPending, DryRun: dryRun, CreatedAt: now}
	if action == confighub.ActionApply && !dryRun {
		rec.u.LastAppliedRevisionNum = num
	}
	rec.u.LastActionAt = now
	rec.lastOp = op.QueuedOperationID
	rec.status = confighub.UnitStatus{Action: action, ActionResult: confighub.ResultNone, ActionStartedAt: now, Status: confighub.StatusPending}
	var spaceSlug string
	if sp := s.spaces[rec.u.SpaceID]; sp != nil {
		spaceSlug = sp.Slug
	}
	s.deliver(wr, eventMessage{Event: eventBridgeWorker, Data: bridgeEventRequest{Action: action, Payload: bridgePayload{
		QueuedOperationID: op.QueuedOperationID, ToolchainType: rec.u.ToolchainType, ProviderType: t.ProviderType,
		UnitSlug: rec.u.Slug, UnitID: rec.u.UnitID, UnitLabels: rec.u.Labels, SpaceSlug: spaceSlug, SpaceID: rec.u.SpaceID,
		OrganizationID: s.orgID, TargetID: t.TargetID, DryRun: dryRun, Data: data, LiveData: rec.u.LiveData,
		LiveState: rec.u.LiveState, TargetParams: []byte(t.Parameters), RevisionNum: num, LiveRevisionNum: rec.u.LiveRevisionNum,
	}}})
	s.workerStatus(wr, confighub.WorkerStatusActionSent)
	stored := op
	stored.Status = "Delivered" // QueuedOperation.Status once on the worker's stream
	s.ops[op.QueuedOperationID] = &opRec{op: stored}
	return &op, nil
}

func (s *Server) unitAction(action string) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		rec, err := s.unitOf(r)
		if err != nil {
			return 0, nil, err
		}
		op, err := s.queueOp(rec, action, r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, *op, nil
	}
}

// bulkAction is BulkApplyUnits / BulkRefreshUnits (POST /unit/apply,
// /unit/refresh): where is required, like every bulk action; 207 when any
// unit cannot be acted on.
func (s *Server) bulkAction(action string) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) { return s.bulkActionOf(r, action) }
}

func (s *Server) bulkActionOf(r *http.Request, action string) (int, any, error) {
	recs, err := s.bulkUnits(r)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.UnitActionResponse{}
	failed := false
	for _, rec := range recs {
		op, err := s.queueOp(rec, action, r.URL.Query())
		if err != nil {
			failed = true
			out = append(out, confighub.UnitActionResponse{Error: bulkElementError(err, rec)})
			continue
		}
		out = append(out, confighub.UnitActionResponse{Action: op})
	}
	return bulkStatus(failed), out, nil
}

func isTerminalStatus(st string) bool {
	switch st {
	case confighub.StatusCompleted, confighub.StatusFailed, confighub.StatusCanceled, confighub.StatusAborted:
		return true
	}
	return false
}

// workerResult takes one ActionResult from a worker: a heartbeat answer, or
// a status of an operation, which becomes a UnitEvent and, when terminal,
// moves the unit.
func (s *Server) workerResult(r *http.Request) (int, any, error) {
	wr, err := s.workerOfPath(r)
	if err != nil {
		return 0, nil, err
	}
	var in actionResult
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	now := s.now()
	wr.w.LastSeenAt = now
	if in.Action == confighub.ActionHeartbeat {
		wr.w.LastMessage = in.Message
		return http.StatusOK, "OK", nil
	}
	or := s.ops[in.QueuedOperationID]
	if or == nil || or.op.BridgeWorkerID != wr.w.BridgeWorkerID {
		return 0, nil, errf(http.StatusNotFound, "operation %s was not sent to worker %s", in.QueuedOperationID, wr.w.Slug)
	}
	if or.terminal {
		return 0, nil, errf(http.StatusConflict, "operation %s already ended (%s)", in.QueuedOperationID, or.op.Status)
	}
	rec := s.units[or.op.UnitID]
	if rec == nil {
		return 0, nil, errf(http.StatusNotFound, "unit %s of operation %s no longer exists", or.op.UnitID, in.QueuedOperationID)
	}
	s.workerStatus(wr, confighub.WorkerStatusActionResultReceived)
	started := in.StartedAt
	if started.IsZero() {
		started = now
	}
	terminal := isTerminalStatus(in.Status)
	ev := &confighub.UnitEvent{UnitEventID: uuid.New(), QueuedOperationID: or.op.QueuedOperationID, OrganizationID: s.orgID,
		UnitID: rec.u.UnitID, SpaceID: rec.u.SpaceID, BridgeWorkerID: wr.w.BridgeWorkerID, Action: or.op.Action,
		Status: in.Status, Result: in.Result, RevisionNum: or.op.RevisionNum, Message: in.Message, StartedAt: started,
		CreatedAt: now, ResourceStatuses: in.ResourceStatuses}
	if in.Result == "" {
		ev.Result = confighub.ResultNone
	}
	if terminal {
		ev.TerminatedAt = now
		if in.TerminatedAt != nil {
			ev.TerminatedAt = in.TerminatedAt.UTC()
		}
	}
	rec.events = append(rec.events, ev)
	or.op.Status = in.Status
	// A late status of an operation a newer one replaced must not hide the
	// newer one's state.
	if rec.lastOp == or.op.QueuedOperationID {
		rec.status = confighub.UnitStatus{Action: or.op.Action, ActionResult: ev.Result, ActionStartedAt: started,
			ActionTerminatedAt: ev.TerminatedAt, Status: in.Status}
	}
	if terminal {
		or.terminal = true
		s.settle(rec, or, in, now)
		s.idle.Broadcast()
	}
	s.log.Info("confighubtest: action result", "worker", wr.w.Slug, "unit", rec.u.Slug, "action", or.op.Action,
		"status", in.Status, "result", ev.Result)
	return http.StatusOK, "OK", nil
}

// settle applies a terminal result to the unit.
func (s *Server) settle(rec *unitRec, or *opRec, in actionResult, now time.Time) {
	if in.Status != confighub.StatusCompleted {
		return
	}
	op := &or.op
	switch {
	case op.Action == confighub.ActionApply && in.Result == confighub.ResultApplyCompleted && !op.DryRun:
		if rec.u.LiveRevisionNum != op.RevisionNum {
			rec.u.PreviousLiveRevisionNum = rec.u.LiveRevisionNum
			rec.u.LiveRevisionNum = op.RevisionNum
		}
		rec.u.LiveState, rec.u.LiveData = in.LiveState, in.LiveData
		if n := op.RevisionNum; n > 0 && n <= int64(len(rec.revs)) {
			rec.revs[n-1].LiveAt = now
		}
	case op.Action == confighub.ActionRefresh:
		// Dry run or not, a refresh records what it saw live.
		if in.LiveState != nil {
			rec.u.LiveState = in.LiveState
		}
		if in.LiveData != nil {
			rec.u.LiveData = in.LiveData
		}
		if op.DryRun {
			op.Data = in.Data
			break
		}
		// A refresh that is not a dry run adopts the drift: the merged data
		// becomes the new head.
		if in.Result == confighub.ResultRefreshAndDrifted && len(in.Data) > 0 && !bytes.Equal(in.Data, rec.u.Data) {
			rec.u.LastChangeDescription = fmt.Sprintf("Refresh adopted live changes (operation %s)", op.QueuedOperationID)
			s.appendRevision(rec, in.Data, "Refresh")
		}
	case op.Action == confighub.ActionDestroy && in.Result == confighub.ResultDestroyCompleted && !op.DryRun:
		rec.u.PreviousLiveRevisionNum = rec.u.LiveRevisionNum
		rec.u.LiveRevisionNum = 0
		rec.u.LiveState, rec.u.LiveData = nil, nil
	default:
		return
	}
	rec.u.Version++ // action results are another writer: stale PUTs meet a 409
	rec.u.UpdatedAt = now
}
