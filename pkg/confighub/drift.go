package confighub

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Drift is what ConfigHub knows about whether a unit's live objects still
// match what was applied. Only a refresh finds out (the worker reads the live
// objects and compares, bridge-worker/impl/kubernetes.go), and an apply after
// that refresh makes its answer stale, so "not drifted" is a claim with a time
// and may be unknown.
type Drift struct {
	// Known is false when no refresh judged the live revision.
	Known   bool
	Drifted bool
	// Failed is a refresh that did not complete: the worker could not read
	// or compare the live objects (one was deleted, say), so they cannot be
	// trusted to match.
	Failed bool
	// RefreshedAt is when the refresh that judged it ended (zero: never).
	RefreshedAt time.Time
	// Why says what is known or why nothing is.
	Why string
}

// DriftOf judges a unit from its latest refresh event (nil: never refreshed).
// u should carry LiveRevision (include LiveRevisionNum) so that a refresh
// older than the last apply counts as stale.
func DriftOf(u *ExtendedUnit, lastRefresh *UnitEvent) Drift {
	if lastRefresh == nil {
		return Drift{Why: "never refreshed"}
	}
	at := lastRefresh.TerminatedAt
	if at.IsZero() {
		return Drift{Why: "a refresh is still running"}
	}
	if u != nil && u.LiveRevision != nil && u.LiveRevision.LiveAt.After(at) {
		return Drift{RefreshedAt: at, Why: fmt.Sprintf("the last refresh (%s) is older than the last apply (%s)",
			at.UTC().Format(time.RFC3339), u.LiveRevision.LiveAt.UTC().Format(time.RFC3339))}
	}
	switch lastRefresh.Result {
	case ResultRefreshAndDrifted:
		return Drift{Known: true, Drifted: true, RefreshedAt: at, Why: "live objects differ from the applied revision"}
	case ResultRefreshAndNoDrift:
		return Drift{Known: true, RefreshedAt: at, Why: "live objects match the applied revision"}
	default:
		msg := lastRefresh.Message
		if msg == "" {
			msg = lastRefresh.Status + " " + lastRefresh.Result
		}
		return Drift{RefreshedAt: at, Failed: true, Why: "the last refresh did not complete: " + msg}
	}
}

// RefreshUnits queues a refresh of every unit matching where (POST
// /unit/refresh; the API requires where). With dryRun the worker only reports
// drift and updates LiveState/LiveData; without it a drifted unit's live
// values are merged into its data as a new head revision — drift adopted, not
// repaired. Detect with dryRun; repair by applying head.
func (c *Client) RefreshUnits(ctx context.Context, where string, dryRun bool) ([]UnitActionResponse, error) {
	if where == "" {
		return nil, fmt.Errorf("ConfigHub: a bulk refresh needs a where filter")
	}
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	if dryRun {
		q.Set("dry_run", "true")
	}
	// A refresh changes nothing the next one would not find again, so it is
	// retried like a read.
	var out []UnitActionResponse
	resp, err := c.call(ctx, request{method: http.MethodPost, path: "/unit/refresh", query: q}, nil, &out)
	if err != nil {
		return nil, err
	}
	return out, bulkResult(resp, http.MethodPost, "/unit/refresh", out, func(r UnitActionResponse) *ResponseError { return r.Error })
}

// bulkResult turns a bulk answer with element errors (or a 207) into a
// *BulkError; nil when every element succeeded.
func bulkResult[T any](resp *response, method, path string, items []T, errOf func(T) *ResponseError) error {
	be := &BulkError{Status: resp.status, RequestID: resp.requestID, Method: method, Path: path, Total: len(items)}
	for _, it := range items {
		if e := errOf(it); e != nil {
			be.Errors = append(be.Errors, e)
		}
	}
	if len(be.Errors) == 0 && resp.status != http.StatusMultiStatus {
		return nil
	}
	if len(be.Errors) == 0 {
		be.Errors = append(be.Errors, &ResponseError{Message: "server answered 207 without element errors", Status: resp.status})
	}
	return be
}

// ListAllUnitEvents lists, across spaces, the latest event per unit among
// those matching where (GET /unit_event, ListAllUnitEvents).
func (c *Client) ListAllUnitEvents(ctx context.Context, where string) ([]UnitEvent, error) {
	var q url.Values
	if where != "" {
		var err error
		if q, err = listQuery(where); err != nil {
			return nil, err
		}
	}
	var out []UnitEvent
	return out, c.get(ctx, "/unit_event", q, &out)
}
