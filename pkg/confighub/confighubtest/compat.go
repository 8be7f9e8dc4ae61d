package confighubtest

import (
	"context"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// The names below served the in-server worker this package no longer has:
// targets now belong to bridge workers that connect over HTTP (Worker). They
// remain only so that callers not yet migrated compile; each fails loudly
// with what to use instead.

// Applier deploys one unit revision to a target and returns the live state.
//
// Deprecated: implement Backend and run it in a Worker.
type Applier interface {
	Apply(ctx context.Context, target confighub.Target, unit confighub.Unit, data []byte) (liveState []byte, err error)
}

// NoopApplier succeeds without a cluster; the live state is the applied data.
//
// Deprecated: use NoopBackend in a Worker.
type NoopApplier struct{}

// Apply implements Applier.
func (NoopApplier) Apply(_ context.Context, _ confighub.Target, _ confighub.Unit, data []byte) ([]byte, error) {
	return append([]byte(nil), data...), nil
}

func removed(what, instead string) string {
	return "confighubtest: " + what + " was removed with the in-server worker; " + instead +
		" (see the package documentation)"
}

// WithApplier panics: the server no longer applies anything itself.
//
// Deprecated: start a Worker with a Backend (srv.StartWorker or StartWorker)
// and point units at its targets.
func WithApplier(Applier) Option {
	return func(*Server) {
		panic(removed("WithApplier", "start a Worker with a Backend (srv.StartWorker) and point units at its targets"))
	}
}

// WithWorkerDelay panics: the server no longer has a worker to slow down.
//
// Deprecated: pass WithOperationDelay to StartWorker.
func WithWorkerDelay(time.Duration) Option {
	return func(*Server) { panic(removed("WithWorkerDelay", "pass WithOperationDelay to StartWorker")) }
}

// FailApplies panics: apply failures are the worker's to report.
//
// Deprecated: use (*Worker).FailApplies.
func (s *Server) FailApplies(string, string, int) {
	panic(removed("(*Server).FailApplies", "use (*Worker).FailApplies on the worker serving the unit"))
}
