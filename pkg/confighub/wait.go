package confighub

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// awaitingTriggersGate is present in ApplyGates while triggers still run.
const awaitingTriggersGate = "awaiting/triggers"

type poller struct {
	delay, cap time.Duration
}

func (p *poller) sleep(ctx context.Context) error {
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	p.delay *= 2
	if p.delay > p.cap {
		p.delay = p.cap
	}
	return nil
}

// WaitForOperation waits for a queued operation to finish, following cub:
//  1. poll the unit's events with where=QueuedOperationID='<op>' until one exists;
//  2. poll the unit and watch LatestUnitEvent until it is terminal or belongs to
//     another operation (superseded);
//  3. wait for the awaiting/triggers apply gate to clear;
//  4. list the operation's events again and judge the terminal one.
//
// It is stricter than cub: Canceled, Aborted and any *Failed result are
// failures (*OperationError carrying the event's Message), and after a
// supersession only the operation's own events count. Polling starts at
// 200ms and doubles up to 1s (WaitPolicy). Without a context deadline the
// wait is bounded by WaitPolicy.Timeout.
func (c *Client) WaitForOperation(ctx context.Context, spaceID, unitID uuid.UUID, op *QueuedOperation) (*UnitEvent, error) {
	if op == nil || op.QueuedOperationID == uuid.Nil {
		return nil, errors.New("ConfigHub: WaitForOperation needs a queued operation with an ID")
	}
	if _, ok := ctx.Deadline(); !ok && c.wait.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.wait.Timeout)
		defer cancel()
	}
	action := op.Action
	if action == "" {
		action = ActionApply
	}
	timeout := func(stage string, err error) error {
		return fmt.Errorf("ConfigHub: waiting for %s of unit %s (operation %s) %s: %w", action, unitID, op.QueuedOperationID, stage, err)
	}
	where := "QueuedOperationID = '" + op.QueuedOperationID.String() + "'"
	p := &poller{delay: c.wait.Initial, cap: c.wait.Cap}

	// 1. the operation's first event.
	var own []UnitEvent
	for {
		evs, err := c.ListUnitEvents(ctx, spaceID, unitID, where)
		if err != nil {
			return nil, timeout("(listing events)", err)
		}
		if len(evs) > 0 {
			own = evs
			break
		}
		if err := p.sleep(ctx); err != nil {
			return nil, timeout("(no event yet)", err)
		}
	}

	// 2. the unit's latest event.
	superseded := uuid.Nil
	if terminalEvent(own) == nil {
		for {
			eu, err := c.getUnit(ctx, spaceID, unitID)
			if err != nil {
				return nil, timeout("(reading unit)", err)
			}
			if ev := eu.LatestUnitEvent; ev != nil {
				if ev.QueuedOperationID != op.QueuedOperationID || (op.Action != "" && ev.Action != op.Action) {
					superseded = ev.QueuedOperationID
					break
				}
				if ev.IsTerminal() {
					break
				}
			}
			if err := p.sleep(ctx); err != nil {
				return nil, timeout("(still running)", err)
			}
		}

		// 3. triggers still running after the action.
		gp := &poller{delay: 25 * time.Millisecond, cap: 250 * time.Millisecond}
		for i := 0; i < 100; i++ {
			eu, err := c.getUnit(ctx, spaceID, unitID)
			if err != nil {
				return nil, timeout("(reading apply gates)", err)
			}
			if _, waiting := eu.Unit.ApplyGates[awaitingTriggersGate]; !waiting {
				break
			}
			if err := gp.sleep(ctx); err != nil {
				return nil, timeout("(awaiting triggers)", err)
			}
		}
	}

	// 4. judge the operation's own terminal event.
	evs, err := c.ListUnitEvents(ctx, spaceID, unitID, where)
	if err != nil {
		return nil, timeout("(listing final events)", err)
	}
	term := terminalEvent(evs)
	if term == nil {
		reason := "no terminal event was recorded"
		if superseded != uuid.Nil {
			reason = fmt.Sprintf("superseded by operation %s before it finished", superseded)
		}
		return nil, &OperationError{OperationID: op.QueuedOperationID, UnitID: unitID, Action: action, Reason: reason}
	}
	if !term.Succeeded() {
		return term, &OperationError{OperationID: op.QueuedOperationID, UnitID: unitID, Action: action, Event: term,
			Reason: "operation did not complete successfully"}
	}
	return term, nil
}

// terminalEvent returns the newest terminal event, or nil.
func terminalEvent(evs []UnitEvent) *UnitEvent {
	sorted := append([]UnitEvent(nil), evs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.After(sorted[j].CreatedAt) })
	for i := range sorted {
		if sorted[i].IsTerminal() {
			return &sorted[i]
		}
	}
	return nil
}
