package confighubtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// Backend is the toolchain half of a ConfigHub bridge worker: what the SDK's
// Kubernetes worker (bridge-worker/impl/kubernetes*.go) does with one unit's
// data on the cluster a target names. The protocol half — the event stream,
// action results, Progressing and retries — belongs to the Worker, which calls
// a Backend and reports what it returns.
type Backend interface {
	// Apply server-side-applies data (field manager "confighub", conflicts
	// forced) and returns the live state. With dryRun the cluster validates the
	// apply and stores nothing; the real worker then completes at once.
	Apply(ctx context.Context, t TargetParams, data []byte, dryRun bool) (liveState []byte, err error)
	// WaitReady waits until every object of data is Current in kstatus terms,
	// for at most t.WaitTimeout. Past that it returns an error wrapping
	// ErrWaitTimeout, with the statuses of the objects still in progress; any
	// other error means the wait itself failed (ApplyWaitFailed).
	WaitReady(ctx context.Context, t TargetParams, data []byte) (map[string]confighub.ResourceStatus, error)
	// Refresh reads the live objects of data and reports whether they differ
	// from it on the fields data sets. merged is data with the live values
	// merged in: what a refresh that is not a dry run adopts as the new head.
	Refresh(ctx context.Context, t TargetParams, data []byte) (merged, liveState []byte, drifted bool, err error)
}

// ErrWaitTimeout is the readiness wait running out of the target's WaitTimeout.
// The real worker does not fail the apply then: it reports Progressing and
// retries the wait later.
var ErrWaitTimeout = errors.New("timed out waiting for resources to become ready")

// DefaultWaitTimeout is the WaitTimeout a Kubernetes worker advertises on its
// targets ("2m0s" in the SDK's kubernetes.go).
const DefaultWaitTimeout = 2 * time.Minute

// TargetParams are the target parameters the Kubernetes worker reads; it
// ignores every other key.
type TargetParams struct {
	KubeContext string
	WaitTimeout time.Duration
}

// ParseTargetParams reads a target's Parameters JSON ({"KubeContext": "...",
// "WaitTimeout": "2m0s"}); an absent WaitTimeout is DefaultWaitTimeout.
func ParseTargetParams(raw string) (TargetParams, error) {
	p := TargetParams{WaitTimeout: DefaultWaitTimeout}
	if raw == "" {
		return p, nil
	}
	var wire struct {
		KubeContext string
		WaitTimeout string
	}
	if err := json.Unmarshal([]byte(raw), &wire); err != nil {
		return p, fmt.Errorf("target parameters: %w", err)
	}
	p.KubeContext = wire.KubeContext
	if wire.WaitTimeout != "" {
		d, err := time.ParseDuration(wire.WaitTimeout)
		if err != nil {
			return p, fmt.Errorf("target parameters: WaitTimeout: %w", err)
		}
		p.WaitTimeout = d
	}
	return p, nil
}
