package confighub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
)

// DefaultUnitInclude is what cub sends on unit list and get calls.
var DefaultUnitInclude = []string{"UnitEventID", "TargetID", "UpstreamUnitID", "SpaceID"}

func spacePath(spaceID uuid.UUID) string { return "/space/" + spaceID.String() }

func unitPath(spaceID, unitID uuid.UUID) string {
	return spacePath(spaceID) + "/unit/" + unitID.String()
}

func notFound(method, path, what string) error {
	return &APIError{Status: http.StatusNotFound, Code: "NotFound", Message: what, Method: method, Path: path}
}

// Me returns the authenticated member (the SDK's auth preflight).
func (c *Client) Me(ctx context.Context) (*OrganizationMember, error) {
	var m OrganizationMember
	if err := c.get(ctx, "/me", nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Info returns GET /info.
func (c *Client) Info(ctx context.Context) (*APIInfo, error) {
	var i APIInfo
	if err := c.get(ctx, "/info", nil, &i); err != nil {
		return nil, err
	}
	return &i, nil
}

// ---- spaces ----

// ListSpaces lists spaces matching where ("" = all).
func (c *Client) ListSpaces(ctx context.Context, where string) ([]ExtendedSpace, error) {
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	var out []ExtendedSpace
	return out, c.get(ctx, "/space", q, &out)
}

// GetSpace fetches a space by ID.
func (c *Client) GetSpace(ctx context.Context, spaceID uuid.UUID) (*ExtendedSpace, error) {
	var out ExtendedSpace
	if err := c.get(ctx, spacePath(spaceID), nil, &out); err != nil {
		return nil, err
	}
	if out.Space == nil {
		return nil, notFound(http.MethodGet, spacePath(spaceID), "space "+spaceID.String()+" not found")
	}
	return &out, nil
}

// GetSpaceBySlug resolves a space slug; an empty list becomes a NotFound APIError.
func (c *Client) GetSpaceBySlug(ctx context.Context, slug string) (*Space, error) {
	where, err := Where().Eq("Slug", slug).Build()
	if err != nil {
		return nil, err
	}
	list, err := c.ListSpaces(ctx, where)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if s.Space != nil && s.Space.Slug == slug {
			return s.Space, nil
		}
	}
	return nil, notFound(http.MethodGet, "/space", fmt.Sprintf("space %q not found", slug))
}

// CreateSpace creates a space. A retryable failure is followed by a look-up by
// slug before any retry, so a lost answer never creates a duplicate.
func (c *Client) CreateSpace(ctx context.Context, s Space) (*Space, error) {
	body := Space{Slug: s.Slug, DisplayName: s.DisplayName, Labels: s.Labels, Annotations: s.Annotations}
	var out Space
	err := c.createOnce(ctx, request{method: http.MethodPost, path: "/space"}, body, &out, func(ctx context.Context) (bool, error) {
		got, err := c.GetSpaceBySlug(ctx, s.Slug)
		if err != nil {
			return false, err
		}
		out = *got
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// LabelSpace merges labels into a space's Labels (a JSON merge patch, so
// labels it does not name are kept). Safe to repeat: the result is the same.
func (c *Client) LabelSpace(ctx context.Context, spaceID uuid.UUID, labels map[string]string) (*Space, error) {
	body, err := json.Marshal(map[string]any{"Labels": labels})
	if err != nil {
		return nil, fmt.Errorf("ConfigHub: encode merge patch: %w", err)
	}
	var out Space
	req := request{method: http.MethodPatch, path: spacePath(spaceID), body: body, contentType: "application/merge-patch+json"}
	if _, err := c.call(ctx, req, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// createOnce posts a create request. It never re-sends blindly: after a
// failure that may have reached the server, exists() is asked first; only if
// the entity is absent is the POST repeated (within the retry policy). A
// repeated POST carries allow_exists=true (the API's "report success and
// return the existing entity"), so a first try that landed after the look-up
// cannot turn the retry into a duplicate-slug error; a server that ignores the
// parameter answers 409, which is handled the same way.
func (c *Client) createOnce(ctx context.Context, req request, in, out any, exists func(context.Context) (bool, error)) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req.body = b
	req.mode = retryUnsentOnly
	retryQuery := url.Values{}
	for k, v := range req.query {
		retryQuery[k] = v
	}
	retryQuery.Set("allow_exists", "true")
	p := c.retry
	bo := wait.Backoff{Duration: p.Base, Factor: p.Factor, Jitter: p.Jitter, Steps: p.Attempts + 1, Cap: p.Cap}
	var lastErr error
	for attempt := 1; attempt <= p.Attempts; attempt++ {
		_, err := c.call(ctx, req, nil, out)
		if err == nil {
			return nil
		}
		if attempt > 1 && IsConflict(err) {
			// A previous try landed after all.
			if ok, lerr := exists(ctx); lerr == nil && ok {
				return nil
			}
			return err
		}
		lastErr = err
		var ae *APIError
		isAPI := errors.As(err, &ae)
		var te *TransportError
		// 429 and unsent transport failures were already retried by do().
		transient := (errors.As(err, &te) && !te.unsent) || (isAPI && ae.Status >= 500)
		if !transient || ctx.Err() != nil || attempt == p.Attempts {
			return err
		}
		delay := bo.Step()
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		{
			ok, lerr := exists(ctx)
			if lerr == nil && ok {
				c.log.Debug("confighub: create landed despite the failed answer; using the existing entity", "path", req.path)
				return nil
			}
			if lerr != nil && !IsNotFound(lerr) {
				return fmt.Errorf("%w (and checking whether it was created failed: %v)", err, lerr)
			}
		}
		c.log.Debug("confighub: retrying create", "path", req.path, "attempt", attempt+1)
		req.query = retryQuery
	}
	return lastErr
}

// ---- units ----

// ListUnits lists the units of a space. include defaults to DefaultUnitInclude
// when nil. Units of newer servers come without Data (see compat.go).
func (c *Client) ListUnits(ctx context.Context, spaceID uuid.UUID, where string, include ...string) ([]ExtendedUnit, error) {
	if include == nil {
		include = DefaultUnitInclude
	}
	return c.listUnits(ctx, spacePath(spaceID)+"/unit", where, include)
}

// ListAllUnits lists units across the organization (GET /unit); Space.* filters work here.
func (c *Client) ListAllUnits(ctx context.Context, where string, include ...string) ([]ExtendedUnit, error) {
	if include == nil {
		include = DefaultUnitInclude
	}
	return c.listUnits(ctx, "/unit", where, include)
}

// GetUnit fetches a unit by ID, with its Data, and re-checks that it belongs
// to spaceID. A newer server sends the data separately, which costs one more
// request (see compat.go).
func (c *Client) GetUnit(ctx context.Context, spaceID, unitID uuid.UUID) (*ExtendedUnit, error) {
	eu, err := c.getUnit(ctx, spaceID, unitID)
	if err != nil {
		return nil, err
	}
	if err := c.fillUnitData(ctx, eu.Unit); err != nil {
		return nil, err
	}
	return eu, nil
}

// getUnit is GetUnit without the data, for callers that only read the
// unit's revision numbers or events.
func (c *Client) getUnit(ctx context.Context, spaceID, unitID uuid.UUID) (*ExtendedUnit, error) {
	q, _ := listQuery("", DefaultUnitInclude...)
	var out ExtendedUnit
	p := unitPath(spaceID, unitID)
	if err := c.get(ctx, p, q, &out); err != nil {
		return nil, err
	}
	if out.Unit == nil || out.Unit.SpaceID != spaceID {
		return nil, notFound(http.MethodGet, p, fmt.Sprintf("unit %s not found in space %s", unitID, spaceID))
	}
	out.adoptReleaseShape()
	return &out, nil
}

// GetUnitBySlug resolves a unit slug within a space; an empty list becomes a
// NotFound APIError, and a unit of another space is never returned.
func (c *Client) GetUnitBySlug(ctx context.Context, spaceID uuid.UUID, slug string) (*ExtendedUnit, error) {
	where, err := Where().Eq("Slug", slug).Build()
	if err != nil {
		return nil, err
	}
	list, err := c.ListUnits(ctx, spaceID, where)
	if err != nil {
		return nil, err
	}
	for i := range list {
		u := list[i].Unit
		if u != nil && u.Slug == slug && u.SpaceID == spaceID {
			return &list[i], nil
		}
	}
	return nil, notFound(http.MethodGet, spacePath(spaceID)+"/unit", fmt.Sprintf("unit %q not found in space %s", slug, spaceID))
}

// unitWrite is the body of a unit create or PUT: only the caller-owned fields.
// Unit itself always carries server-owned fields such as MutationSources
// (no omitempty, as in the SDK), which a write must not send back.
type unitWrite struct {
	Slug                  string            `json:"Slug"`
	DisplayName           string            `json:"DisplayName,omitempty"`
	ToolchainType         string            `json:"ToolchainType"`
	Data                  []byte            `json:"Data,omitempty"`
	Labels                map[string]string `json:"Labels,omitempty"`
	Annotations           map[string]string `json:"Annotations,omitempty"`
	TargetID              uuid.UUID         `json:"TargetID,omitzero"`
	LastChangeDescription string            `json:"LastChangeDescription,omitempty"`
	Version               int64             `json:"Version"`
}

// unitWriteBody keeps only the caller-owned fields of a unit.
func unitWriteBody(u Unit) unitWrite {
	return unitWrite{
		Slug: u.Slug, DisplayName: u.DisplayName, ToolchainType: u.ToolchainType, Data: u.Data,
		Labels: u.Labels, Annotations: u.Annotations, TargetID: u.TargetID,
		LastChangeDescription: u.LastChangeDescription, Version: u.Version,
	}
}

// CreateUnit creates a unit in spaceID. With a non-nil upstreamUnitID it
// creates a clone: the data comes from the upstream's head, so unit.Data must
// be empty. Never creates duplicates (see createOnce).
func (c *Client) CreateUnit(ctx context.Context, spaceID uuid.UUID, unit Unit, upstreamSpaceID, upstreamUnitID uuid.UUID) (*Unit, error) {
	if unit.Slug == "" {
		return nil, errors.New("ConfigHub: CreateUnit needs a Slug")
	}
	q := url.Values{}
	if upstreamUnitID != uuid.Nil {
		if len(unit.Data) > 0 {
			return nil, fmt.Errorf("ConfigHub: unit %q: a clone takes its data from the upstream; do not pass Data", unit.Slug)
		}
		if upstreamSpaceID == uuid.Nil {
			return nil, fmt.Errorf("ConfigHub: unit %q: upstream space ID is required with an upstream unit", unit.Slug)
		}
		q.Set("upstream_space_id", upstreamSpaceID.String())
		q.Set("upstream_unit_id", upstreamUnitID.String())
	}
	if unit.ToolchainType == "" {
		unit.ToolchainType = ToolchainKubernetesYAML
	}
	body := unitWriteBody(unit)
	body.Version = 0
	var out Unit
	err := c.createOnce(ctx, request{method: http.MethodPost, path: spacePath(spaceID) + "/unit", query: q}, body, &out,
		func(ctx context.Context) (bool, error) {
			got, err := c.GetUnitBySlug(ctx, spaceID, unit.Slug)
			if err != nil {
				return false, err
			}
			out = *got.Unit
			return true, nil
		})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (p UnitUpdateParams) query() url.Values {
	q := url.Values{}
	if p.Upgrade {
		q.Set("upgrade", "true")
	}
	if p.Restore != "" {
		q.Set("restore", p.Restore)
	}
	if p.RevisionID != uuid.Nil {
		q.Set("revision_id", p.RevisionID.String())
	}
	return q
}

func (p UnitUpdateParams) createsRevisionAlways() bool {
	return p.Restore != "" || p.RevisionID != uuid.Nil
}

// PatchUnit sends an RFC 7396 merge patch (any JSON-marshalable value, or
// json.RawMessage; nil sends `null`, useful with Upgrade). Plain patches and
// upgrades are retried like any idempotent call. A restore is not idempotent
// (each one appends a revision), so after a failure that may have reached the
// server the unit is re-read, and the restore is re-sent only if head did not move.
func (c *Client) PatchUnit(ctx context.Context, spaceID, unitID uuid.UUID, patch any, params UnitUpdateParams) (*Unit, error) {
	var body []byte
	switch p := patch.(type) {
	case json.RawMessage:
		body = p
	case []byte:
		body = p
	default:
		b, err := json.Marshal(patch)
		if err != nil {
			return nil, fmt.Errorf("ConfigHub: encode merge patch: %w", err)
		}
		body = b
	}
	req := request{method: http.MethodPatch, path: unitPath(spaceID, unitID), query: params.query(),
		body: body, contentType: "application/merge-patch+json"}
	var out Unit
	if !params.createsRevisionAlways() {
		if _, err := c.call(ctx, req, nil, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
	before, err := c.getUnit(ctx, spaceID, unitID)
	if err != nil {
		return nil, err
	}
	req.mode = retryUnsentOnly
	for attempt := 1; ; attempt++ {
		_, err := c.call(ctx, req, nil, &out)
		if err == nil {
			return &out, nil
		}
		var te *TransportError
		var ae *APIError
		maybeLanded := (errors.As(err, &te) && !te.unsent) || (errors.As(err, &ae) && ae.Status >= 500)
		if !maybeLanded || ctx.Err() != nil || attempt >= c.retry.Attempts {
			return nil, err
		}
		now, gerr := c.getUnit(ctx, spaceID, unitID)
		if gerr != nil {
			return nil, fmt.Errorf("%w (and re-reading the unit failed: %v)", err, gerr)
		}
		if now.Unit.HeadRevisionNum > before.Unit.HeadRevisionNum {
			c.log.Debug("confighub: restore landed despite the failed answer", "path", req.path)
			return now.Unit, nil
		}
		c.log.Debug("confighub: retrying restore", "path", req.path, "attempt", attempt+1)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(c.retry.Base):
		}
	}
}

// UpdateUnit is a read-modify-write PUT: it GETs the unit, calls mutate on it,
// and PUTs it back with the Version read. On 409 (stale Version) it re-GETs and
// re-applies mutate once more; a second 409 is returned.
func (c *Client) UpdateUnit(ctx context.Context, spaceID, unitID uuid.UUID, mutate func(*Unit) error, params UnitUpdateParams) (*Unit, error) {
	var lastErr error
	for try := 0; try < 2; try++ {
		cur, err := c.GetUnit(ctx, spaceID, unitID)
		if err != nil {
			return nil, err
		}
		u := *cur.Unit
		if mutate != nil {
			if err := mutate(&u); err != nil {
				return nil, err
			}
		}
		body := unitWriteBody(u)
		body.Version = cur.Unit.Version
		var out Unit
		_, err = c.call(ctx, request{method: http.MethodPut, path: unitPath(spaceID, unitID), query: params.query()}, body, &out)
		if err == nil {
			return &out, nil
		}
		if !IsConflict(err) {
			return nil, err
		}
		lastErr = err
		c.log.Debug("confighub: version conflict on PUT; re-reading", "path", unitPath(spaceID, unitID))
	}
	return nil, fmt.Errorf("%w (unit changed concurrently twice; giving up)", lastErr)
}

// DeleteUnit deletes a unit.
func (c *Client) DeleteUnit(ctx context.Context, spaceID, unitID uuid.UUID) error {
	var out DeleteResponse
	_, err := c.call(ctx, request{method: http.MethodDelete, path: unitPath(spaceID, unitID)}, nil, &out)
	if err != nil {
		return err
	}
	if out.Error != nil {
		return &APIError{Status: out.Error.Status, Message: out.Error.Message, Method: http.MethodDelete, Path: unitPath(spaceID, unitID)}
	}
	return nil
}

// SetTarget points the unit at a target with a merge patch.
func (c *Client) SetTarget(ctx context.Context, spaceID, unitID, targetID uuid.UUID) (*Unit, error) {
	return c.PatchUnit(ctx, spaceID, unitID, map[string]any{"TargetID": targetID.String()}, UnitUpdateParams{})
}

// ---- actions ----

// Apply queues an apply of the unit's head. A 200 means queued, not deployed:
// use WaitForOperation. The POST is retried only when the server surely did
// not receive it; otherwise the error wraps ErrApplyOutcomeUnknown.
func (c *Client) Apply(ctx context.Context, spaceID, unitID uuid.UUID) (*QueuedOperation, error) {
	return c.action(ctx, spaceID, unitID, "apply", ActionOptions{})
}

// ApplyWith queues an apply with options: a revision other than head
// (newer servers) or a dry run, which the worker validates without changing
// anything live.
func (c *Client) ApplyWith(ctx context.Context, spaceID, unitID uuid.UUID, o ActionOptions) (*QueuedOperation, error) {
	return c.action(ctx, spaceID, unitID, "apply", o)
}

// RefreshUnit queues a refresh (drift detection). Unless it is a dry run, a
// refresh that finds drift adopts the live values into a new head revision.
func (c *Client) RefreshUnit(ctx context.Context, spaceID, unitID uuid.UUID) (*QueuedOperation, error) {
	return c.action(ctx, spaceID, unitID, "refresh", ActionOptions{})
}

// RefreshWith queues a refresh with options; with DryRun only the unit's
// LiveState and LiveData are updated, never its Data.
func (c *Client) RefreshWith(ctx context.Context, spaceID, unitID uuid.UUID, o ActionOptions) (*QueuedOperation, error) {
	if o.Revision != "" {
		return nil, errors.New("ConfigHub: refresh takes no revision")
	}
	return c.action(ctx, spaceID, unitID, "refresh", o)
}

func (o ActionOptions) query() url.Values {
	q := url.Values{}
	if o.Revision != "" {
		q.Set("revision", o.Revision)
	}
	if o.DryRun {
		q.Set("dry_run", "true")
	}
	return q
}

func (c *Client) action(ctx context.Context, spaceID, unitID uuid.UUID, verb string, o ActionOptions) (*QueuedOperation, error) {
	var op QueuedOperation
	path := unitPath(spaceID, unitID) + "/" + verb
	_, err := c.call(ctx, request{method: http.MethodPost, path: path, query: o.query(), mode: retryUnsentOnly}, nil, &op)
	if err != nil {
		var te *TransportError
		var ae *APIError
		if (errors.As(err, &te) && !te.unsent) || (errors.As(err, &ae) && ae.Status >= 500) {
			return nil, fmt.Errorf("%w: %s of unit %s may or may not have been queued; check its events and LastAppliedRevisionNum before retrying: %w",
				ErrApplyOutcomeUnknown, verb, unitID, err)
		}
		return nil, err
	}
	return &op, nil
}

// ListUnitEvents lists a unit's events (no guaranteed order).
func (c *Client) ListUnitEvents(ctx context.Context, spaceID, unitID uuid.UUID, where string) ([]UnitEvent, error) {
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	var out []UnitEvent
	return out, c.get(ctx, unitPath(spaceID, unitID)+"/unit_event", q, &out)
}

// LiveState returns the unit's live state as raw bytes (DownloadUnitLiveState;
// Aug-2025 servers called the route live-state).
func (c *Client) LiveState(ctx context.Context, spaceID, unitID uuid.UUID) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: unitPath(spaceID, unitID) + "/live_state"})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// ---- revisions ----

// ListRevisions lists a unit's revisions matching where (e.g. "RevisionNum = 5");
// include "UserID" fills ExtendedRevision.User. Newer servers send them
// without Data: read it with GetRevisionData.
func (c *Client) ListRevisions(ctx context.Context, spaceID, unitID uuid.UUID, where string, include ...string) ([]ExtendedRevision, error) {
	q, err := listQuery(where, include...)
	if err != nil {
		return nil, err
	}
	var out []ExtendedRevision
	return out, c.get(ctx, unitPath(spaceID, unitID)+"/revision", q, &out)
}

// GetRevision fetches one revision by ID, with its Data (from the revision
// data route when a newer server leaves it out).
func (c *Client) GetRevision(ctx context.Context, spaceID, unitID, revisionID uuid.UUID) (*ExtendedRevision, error) {
	var out ExtendedRevision
	p := unitPath(spaceID, unitID) + "/revision/" + revisionID.String()
	if err := c.get(ctx, p, nil, &out); err != nil {
		return nil, err
	}
	if out.Revision == nil {
		return nil, notFound(http.MethodGet, p, "revision not found")
	}
	if err := c.fillRevisionData(ctx, spaceID, unitID, out.Revision); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRevisionByNum finds revision N of a unit (no path takes a number), with
// its Data like GetRevision.
func (c *Client) GetRevisionByNum(ctx context.Context, spaceID, unitID uuid.UUID, num int64) (*Revision, error) {
	list, err := c.ListRevisions(ctx, spaceID, unitID, "RevisionNum = "+strconv.FormatInt(num, 10))
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r.Revision != nil && r.Revision.RevisionNum == num {
			return r.Revision, c.fillRevisionData(ctx, spaceID, unitID, r.Revision)
		}
	}
	return nil, notFound(http.MethodGet, unitPath(spaceID, unitID)+"/revision", fmt.Sprintf("revision %d of unit %s not found", num, unitID))
}

// GetRevisionData returns a revision's raw configuration.
func (c *Client) GetRevisionData(ctx context.Context, spaceID, unitID, revisionID uuid.UUID) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: unitPath(spaceID, unitID) + "/revision/" + revisionID.String() + "/data"})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// ---- tags ----

// CreateTag creates a tag in a space (retry-safe: looked up by slug before any retry).
func (c *Client) CreateTag(ctx context.Context, spaceID uuid.UUID, t Tag) (*Tag, error) {
	body := Tag{Slug: t.Slug, DisplayName: t.DisplayName, Labels: t.Labels, Annotations: t.Annotations}
	var out Tag
	err := c.createOnce(ctx, request{method: http.MethodPost, path: spacePath(spaceID) + "/tag"}, body, &out,
		foundBySlug(t.Slug, &out, func(ctx context.Context, where string) ([]ExtendedTag, error) { return c.ListTags(ctx, spaceID, where) },
			func(e ExtendedTag) *Tag { return e.Tag }, func(t *Tag) string { return t.Slug }))
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTags lists a space's tags.
func (c *Client) ListTags(ctx context.Context, spaceID uuid.UUID, where string) ([]ExtendedTag, error) {
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	var out []ExtendedTag
	return out, c.get(ctx, spacePath(spaceID)+"/tag", q, &out)
}

// TagUnits tags the chosen revision of every unit matching where (POST
// /unit/tag). where is required: an empty one would tag the whole
// organization. On 207 the responses are returned with a *BulkError.
// Tagging is idempotent, so the call is retried on transient failures.
func (c *Client) TagUnits(ctx context.Context, where string, req UnitTagRequest) ([]UnitTagResponse, error) {
	if where == "" {
		return nil, errors.New("ConfigHub: TagUnits needs a where filter")
	}
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	var out []UnitTagResponse
	resp, err := c.call(ctx, request{method: http.MethodPost, path: "/unit/tag", query: q}, req, &out)
	if err != nil {
		return nil, err
	}
	return out, bulkResult(resp, http.MethodPost, "/unit/tag", out, func(r UnitTagResponse) *ResponseError { return r.Error })
}

// ---- targets ----

// ListTargets lists a space's targets.
func (c *Client) ListTargets(ctx context.Context, spaceID uuid.UUID, where string) ([]ExtendedTarget, error) {
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	var out []ExtendedTarget
	return out, c.get(ctx, spacePath(spaceID)+"/target", q, &out)
}

// CreateTarget creates a target by hand (retry-safe: looked up by slug
// before any retry). A target belongs to a bridge worker: BridgeWorkerID is
// required, and a running worker advertises its own targets anyway.
func (c *Client) CreateTarget(ctx context.Context, spaceID uuid.UUID, t Target) (*Target, error) {
	body := Target{Slug: t.Slug, DisplayName: t.DisplayName, ToolchainType: t.ToolchainType, ProviderType: t.ProviderType,
		Parameters: t.Parameters, Labels: t.Labels, BridgeWorkerID: t.BridgeWorkerID}
	if body.ToolchainType == "" {
		body.ToolchainType = ToolchainKubernetesYAML
	}
	if body.ProviderType == "" {
		body.ProviderType = "Kubernetes"
	}
	var out Target
	err := c.createOnce(ctx, request{method: http.MethodPost, path: spacePath(spaceID) + "/target"}, body, &out,
		foundBySlug(t.Slug, &out, func(ctx context.Context, where string) ([]ExtendedTarget, error) {
			return c.ListTargets(ctx, spaceID, where)
		}, func(e ExtendedTarget) *Target { return e.Target }, func(t *Target) string { return t.Slug }))
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ---- bridge workers ----

func workerPath(spaceID, workerID uuid.UUID) string {
	return spacePath(spaceID) + "/bridge_worker/" + workerID.String()
}

// ListBridgeWorkers lists a space's workers matching where ("" = all).
func (c *Client) ListBridgeWorkers(ctx context.Context, spaceID uuid.UUID, where string) ([]ExtendedBridgeWorker, error) {
	q, err := listQuery(where)
	if err != nil {
		return nil, err
	}
	var out []ExtendedBridgeWorker
	return out, c.get(ctx, spacePath(spaceID)+"/bridge_worker", q, &out)
}

// GetBridgeWorker fetches a worker by ID.
func (c *Client) GetBridgeWorker(ctx context.Context, spaceID, workerID uuid.UUID) (*ExtendedBridgeWorker, error) {
	var out ExtendedBridgeWorker
	if err := c.get(ctx, workerPath(spaceID, workerID), nil, &out); err != nil {
		return nil, err
	}
	if out.BridgeWorker == nil {
		return nil, notFound(http.MethodGet, workerPath(spaceID, workerID), "bridge worker "+workerID.String()+" not found")
	}
	return &out, nil
}

// ListBridgeWorkerStatuses returns a worker's connection history
// (Connected, Disconnected, ActionSent, ActionResultReceived records).
func (c *Client) ListBridgeWorkerStatuses(ctx context.Context, spaceID, workerID uuid.UUID) ([]BridgeWorkerStatus, error) {
	var out []BridgeWorkerStatus
	return out, c.get(ctx, workerPath(spaceID, workerID)+"/status", nil, &out)
}

// CreateBridgeWorker registers a worker in a space, as `cub worker create`
// does; the answer carries the Secret the worker program authenticates with.
// Retry-safe: looked up by slug before any retry.
func (c *Client) CreateBridgeWorker(ctx context.Context, spaceID uuid.UUID, w BridgeWorker) (*BridgeWorker, error) {
	body := BridgeWorker{Slug: w.Slug, DisplayName: w.DisplayName, Labels: w.Labels, Annotations: w.Annotations}
	var out BridgeWorker
	err := c.createOnce(ctx, request{method: http.MethodPost, path: spacePath(spaceID) + "/bridge_worker"}, body, &out,
		foundBySlug(w.Slug, &out, func(ctx context.Context, where string) ([]ExtendedBridgeWorker, error) {
			return c.ListBridgeWorkers(ctx, spaceID, where)
		}, func(e ExtendedBridgeWorker) *BridgeWorker { return e.BridgeWorker }, func(w *BridgeWorker) string { return w.Slug }))
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// foundBySlug is createOnce's existence check for entities that are listed
// with a Slug filter: it fills out with the entity when one exists.
func foundBySlug[E, T any](slug string, out *T, list func(context.Context, string) ([]E, error),
	entity func(E) *T, slugOf func(*T) string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		w, err := Where().Eq("Slug", slug).Build()
		if err != nil {
			return false, err
		}
		items, err := list(ctx, w)
		if err != nil {
			return false, err
		}
		for _, item := range items {
			if e := entity(item); e != nil && slugOf(e) == slug {
				*out = *e
				return true, nil
			}
		}
		return false, nil
	}
}
