// Package confighub is a small typed client for the ConfigHub REST API, the
// only way cub-traderx changes environments. It is written against the API
// facts in shared/confighub-api.md, without the ConfigHub SDK.
//
// # Wire format
//
// The base URL is CUB_SERVER (trailing "/" trimmed) + "/api"; every call
// carries "Authorization: Bearer <CUB_TOKEN>". JSON fields are PascalCase,
// query parameters snake_case. Success is 200 (creates included) or 207 for
// bulk calls with element errors. Nullable references (TargetID, Upstream*)
// treat null, absent and the zero UUID alike. Slugs are resolved by listing
// with where=Slug = '<slug>'; an empty list becomes a NotFound *APIError, and
// a unit fetched by ID is re-checked to be in the expected space.
//
// # Unit shapes
//
// Servers up to confighub/sdk c110dd78 send a unit's Data and live revisions
// inline; servers from 41892a1 send DataSize and LastReleasedRevisionNum
// instead and serve the data from U/data. The Go types stay the same for
// callers: GetUnit, GetRevision and GetRevisionByNum fill Data from the data
// routes when needed, and LiveRevisionNum is filled from
// LastReleasedRevisionNum (compat.go). Lists never fetch data.
//
// # Errors
//
// A non-success HTTP answer is an *APIError (status, X-Request-Id, Code,
// Message, method and path); IsNotFound, IsConflict and IsUnauthorized test
// for it. A request with no answer is a *TransportError. A 207 bulk answer is
// returned together with a *BulkError listing the element errors. A failed
// operation is an *OperationError carrying the terminal UnitEvent. No error
// or log line carries the token, URL userinfo or token-like query values
// (see Redact).
//
// # Retry policy
//
// Transient failures are 5xx (500, 502, 503, 504), 429 (Retry-After seconds
// honoured, up to RetryPolicy.MaxRetryAfter), per-try timeouts, connection
// resets and refused connections. They are retried with exponential backoff
// (default 4 tries, 250ms doubling, 20% jitter), never past the caller's
// context deadline, and only where a repeat cannot do harm:
//
//   - GET, PUT, DELETE, PATCH (plain merge patch or upgrade) and the bulk tag
//     POST are idempotent and retried on any transient failure. A repeated PUT
//     whose first try landed meets a 409; UpdateUnit then re-reads the unit
//     and re-applies the caller's mutation once.
//   - Creates (space, unit, tag, target) are retried only after checking by
//     slug that the earlier try did not land, so a lost answer never makes a
//     duplicate; a 409 on a repeat also resolves to the existing entity.
//   - Restores (PATCH with restore or revision_id) append a revision each
//     time, so after a failure that may have landed the unit is re-read and
//     the restore is re-sent only if its head did not move.
//   - Apply and refresh are retried only when the server surely did not see
//     the request (connection refused, 429). Otherwise the error wraps
//     ErrApplyOutcomeUnknown: the caller must inspect the unit's events
//     before applying again.
//
// WaitForOperation follows cub's algorithm (poll the operation's events, then
// the unit's LatestUnitEvent, 200ms doubling to 1s) but is stricter:
// Canceled, Aborted and any *Failed result are failures.
package confighub
