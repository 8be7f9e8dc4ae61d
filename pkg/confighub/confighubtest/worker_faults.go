package confighubtest

import (
	"context"
	"errors"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// NoopBackend is a Backend without a cluster, for client tests: an apply
// succeeds with the data as live state, objects are ready at once, and a
// refresh never finds drift.
type NoopBackend struct{}

// Apply implements Backend.
func (NoopBackend) Apply(_ context.Context, _ TargetParams, data []byte, _ bool) ([]byte, error) {
	return append([]byte(nil), data...), nil
}

// WaitReady implements Backend.
func (NoopBackend) WaitReady(context.Context, TargetParams, []byte) (map[string]confighub.ResourceStatus, error) {
	return nil, nil
}

// Refresh implements Backend.
func (NoopBackend) Refresh(_ context.Context, _ TargetParams, data []byte) ([]byte, []byte, bool, error) {
	return append([]byte(nil), data...), append([]byte(nil), data...), false, nil
}

// unitFault is what the worker is told to get wrong for one unit slug.
type unitFault struct {
	applyErr   error
	applyLeft  int // <0: every apply
	neverReady bool
	disconnect bool
}

// takeApplyFault returns the faults of one apply of a unit, consuming a
// counted failure and the one-off disconnect.
func (w *Worker) takeApplyFault(unitSlug string) (applyErr error, disconnect bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.fault[unitSlug]
	if f == nil {
		return nil, false
	}
	applyErr, disconnect = f.applyErr, f.disconnect
	if f.applyErr != nil && f.applyLeft > 0 {
		f.applyLeft--
		if f.applyLeft == 0 {
			f.applyErr = nil
		}
	}
	f.disconnect = false
	return applyErr, disconnect
}

func (w *Worker) neverReady(unitSlug string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.fault[unitSlug]
	return f != nil && f.neverReady
}

func (w *Worker) setFault(unitSlug string, set func(*unitFault)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.fault[unitSlug]
	if f == nil {
		f = &unitFault{}
		w.fault[unitSlug] = f
	}
	set(f)
}

// FailApplies makes the next `times` applies of units with this slug fail
// as if the cluster refused them (Failed/ApplyFailed with message); times <
// 0 means every apply until cleared with times = 0.
func (w *Worker) FailApplies(unitSlug, message string, times int) {
	w.setFault(unitSlug, func(f *unitFault) {
		f.applyErr, f.applyLeft = nil, 0
		if times != 0 {
			f.applyErr, f.applyLeft = errors.New(message), times
		}
	})
}

// SetNeverReady makes the readiness wait of units with this slug always run
// out (or stops doing so): their applies stay Progressing, retried with
// backoff, as a crash-looping Deployment keeps them on a real worker.
func (w *Worker) SetNeverReady(unitSlug string, on bool) {
	w.setFault(unitSlug, func(f *unitFault) { f.neverReady = on })
}

// DisconnectOnApply makes the worker drop its connection (as Stop does) in
// the middle of the next apply of a unit with this slug: after the objects
// are applied and before anything is reported, so the unit stays
// Progressing and the worker Disconnected.
func (w *Worker) DisconnectOnApply(unitSlug string) {
	w.setFault(unitSlug, func(f *unitFault) { f.disconnect = true })
}
