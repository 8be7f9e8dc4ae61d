package confighubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// tagRemove is the UnitTagRequest.Revision that removes the tag from a unit's revisions.
const tagRemove = "Remove"

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$`)

func checkSlug(kind, slug string) error {
	if slug == "" {
		return errf(http.StatusBadRequest, "%s Slug is required", kind)
	}
	if len(slug) > 63 || !slugRE.MatchString(slug) {
		return errf(http.StatusBadRequest, "%s Slug %q is invalid (lower-case letters, digits, - and _)", kind, slug)
	}
	return nil
}

func pathID(r *http.Request, name, kind string) (uuid.UUID, error) {
	v := r.PathValue(name)
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, errf(http.StatusBadRequest, "invalid %s ID %q: not a UUID", kind, v)
	}
	return id, nil
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 80<<20))
	if err != nil {
		return errf(http.StatusBadRequest, "reading body: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errf(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	return nil
}

func queryWhere(q url.Values, s *schema) (filter, error) {
	f, err := parseWhere(q.Get("where"), s)
	if err != nil {
		return nil, errf(http.StatusBadRequest, "invalid where %q: %v", q.Get("where"), err)
	}
	return f, nil
}

func (s *Server) spaceOf(r *http.Request) (*confighub.Space, error) {
	id, err := pathID(r, "s", "space")
	if err != nil {
		return nil, err
	}
	sp := s.spaces[id]
	if sp == nil {
		return nil, errf(http.StatusNotFound, "space %s not found", id)
	}
	return sp, nil
}

func (s *Server) unitOf(r *http.Request) (*unitRec, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "u", "unit")
	if err != nil {
		return nil, err
	}
	rec := s.units[id]
	if rec == nil || rec.u.SpaceID != sp.SpaceID {
		return nil, errf(http.StatusNotFound, "unit %s not found in space %s", id, sp.SpaceID)
	}
	return rec, nil
}

// ---- views ----

func spaceView(sp *confighub.Space) *view {
	if sp == nil {
		return nil
	}
	v := &view{m: toMap(sp), rel: map[string]func() *view{}}
	v.rel["Space"] = func() *view { return v }
	return v
}

func (s *Server) unitView(rec *unitRec) *view {
	if rec == nil {
		return nil
	}
	v := &view{m: toMap(rec.u), rel: map[string]func() *view{}}
	v.rel["Unit"] = func() *view { return v }
	v.rel["Space"] = func() *view { return spaceView(s.spaces[rec.u.SpaceID]) }
	v.rel["UpstreamUnit"] = func() *view { return s.unitView(s.units[rec.u.UpstreamUnitID]) }
	return v
}

func plainView(prefix string, x any) *view {
	v := &view{m: toMap(x), rel: map[string]func() *view{}}
	v.rel[prefix] = func() *view { return v }
	return v
}

// ---- me / info ----

func (s *Server) getMe(*http.Request) (int, any, error) { return http.StatusOK, s.me, nil }

func (s *Server) getInfo(*http.Request) (int, any, error) {
	return http.StatusOK, confighub.APIInfo{Build: "confighubtest", Revision: "confighubtest", Version: "dev"}, nil
}

// ---- spaces ----

// extSpace fills the space's counts from the stand-in's state. No trigger
// entities exist, so TriggerCountByEventType is always empty.
func (s *Server) extSpace(sp *confighub.Space) confighub.ExtendedSpace {
	c := *sp
	es := confighub.ExtendedSpace{Space: &c, TargetCountByToolchainType: map[string]int{}, TriggerCountByEventType: map[string]int{},
		TotalBridgeWorkerCount: s.bridgeWorkerCount(sp.SpaceID), TotalLinkCount: len(s.spaceLinks(sp.SpaceID))}
	for _, t := range s.targets {
		if t.SpaceID == sp.SpaceID {
			es.TargetCountByToolchainType[t.ToolchainType]++
		}
	}
	for _, t := range s.tags {
		if t.SpaceID == sp.SpaceID {
			es.TotalTagCount++
		}
	}
	for _, id := range s.unitOrder {
		rec := s.units[id]
		if rec.u.SpaceID != sp.SpaceID {
			continue
		}
		es.TotalUnitCount++
		if rec.u.HeadRevisionNum > rec.u.LiveRevisionNum {
			es.UnappliedUnitCount++
		}
		if up := s.units[rec.u.UpstreamUnitID]; up != nil && rec.u.UpstreamRevisionNum < up.u.HeadRevisionNum {
			es.UpgradableUnitCount++
		}
		if len(rec.u.ApplyGates) > 0 {
			es.GatedUnitCount++
		}
	}
	return es
}

func (s *Server) listSpaces(r *http.Request) (int, any, error) {
	f, err := queryWhere(r.URL.Query(), spaceSchema)
	if err != nil {
		return 0, nil, err
	}
	if _, err := parseInclude(r.URL.Query(), "Space"); err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedSpace{}
	for _, id := range s.spaceOrder {
		if sp := s.spaces[id]; f.match(spaceView(sp)) {
			out = append(out, s.extSpace(sp))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) getSpace(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	if _, err := parseInclude(r.URL.Query(), "Space"); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.extSpace(sp), nil
}

// patchSpace is PatchSpace: a JSON merge patch of the space (the SDK's
// PatchSpaceApplicationMergePatchPlusJSONBody); of its writable fields the
// stand-in keeps DisplayName, Labels and Annotations. It answers the Space.
func (s *Server) patchSpace(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	var next confighub.Space
	if err := readMergePatch(r, sp, &next, "space"); err != nil {
		return 0, nil, err
	}
	sp.DisplayName, sp.Labels, sp.Annotations = next.DisplayName, next.Labels, next.Annotations
	sp.Version++
	sp.UpdatedAt = s.now()
	return http.StatusOK, sp, nil
}

// readMergePatch applies the request's JSON merge patch to current and
// decodes the result into next.
func readMergePatch(r *http.Request, current, next any, what string) error {
	if err := checkPatchContentType(r); err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var patch map[string]any
	if err := json.Unmarshal(body, &patch); err != nil {
		return errf(http.StatusBadRequest, "a %s merge patch must be a JSON object: %v", what, err)
	}
	b, _ := json.Marshal(mergePatch(toMap(current), patch))
	if err := json.Unmarshal(b, next); err != nil {
		return errf(http.StatusBadRequest, "merge patch gives an invalid %s: %v", what, err)
	}
	return nil
}

func (s *Server) createSpace(r *http.Request) (int, any, error) {
	exists, err := allowExists(r.URL.Query())
	if err != nil {
		return 0, nil, err
	}
	var in confighub.Space
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := checkSlug("space", in.Slug); err != nil {
		return 0, nil, err
	}
	for _, sp := range s.spaces {
		if sp.Slug == in.Slug {
			if exists {
				return http.StatusOK, *sp, nil
			}
			return 0, nil, errf(http.StatusConflict, "space %q already exists", in.Slug)
		}
	}
	now := s.now()
	sp := &confighub.Space{SpaceID: uuid.New(), OrganizationID: s.orgID, Slug: in.Slug, DisplayName: in.DisplayName,
		Labels: in.Labels, Annotations: in.Annotations, Version: 1, CreatedAt: now, UpdatedAt: now, EntityType: "Space"}
	if sp.DisplayName == "" {
		sp.DisplayName = sp.Slug
	}
	s.spaces[sp.SpaceID] = sp
	s.spaceOrder = append(s.spaceOrder, sp.SpaceID)
	return http.StatusOK, *sp, nil
}

// ---- units ----

func (s *Server) listUnits(r *http.Request, space uuid.UUID) (int, any, error) {
	f, err := queryWhere(r.URL.Query(), unitSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Unit")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedUnit{}
	for _, id := range s.unitOrder {
		rec := s.units[id]
		if space != uuid.Nil && rec.u.SpaceID != space {
			continue
		}
		if f.match(s.unitView(rec)) {
			out = append(out, s.extUnitWith(rec, inc))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) listSpaceUnits(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	return s.listUnits(r, sp.SpaceID)
}

func (s *Server) listAllUnits(r *http.Request) (int, any, error) { return s.listUnits(r, uuid.Nil) }

func (s *Server) getUnit(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Unit")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.extUnitWith(rec, inc), nil
}

func (s *Server) unitBySlug(space uuid.UUID, slug string) *unitRec {
	for _, rec := range s.units {
		if rec.u.SpaceID == space && rec.u.Slug == slug {
			return rec
		}
	}
	return nil
}

func (s *Server) checkTarget(space, target uuid.UUID) error {
	if target == uuid.Nil {
		return nil
	}
	t := s.targets[target]
	if t == nil || t.SpaceID != space {
		return errf(http.StatusBadRequest, "target %s does not exist in space %s", target, space)
	}
	return nil
}

// appendRevision makes data the unit's new head revision and records its
// Mutation, which the caller completes with what caused the change.
func (s *Server) appendRevision(rec *unitRec, data []byte, source string) *confighub.Mutation {
	now := s.now()
	rev := &confighub.Revision{
		RevisionID: uuid.New(), RevisionNum: rec.u.HeadRevisionNum + 1, UnitID: rec.u.UnitID, SpaceID: rec.u.SpaceID,
		OrganizationID: s.orgID, Data: append([]byte(nil), data...), Description: rec.u.LastChangeDescription,
		Source: source, Tags: map[string]string{}, MutationSources: []json.RawMessage{}, UserID: s.me.UserID,
		CreatedAt: now, Version: 1, EntityType: "Revision",
	}
	rec.revs = append(rec.revs, rev)
	rec.u.Data = rev.Data
	rec.u.HeadRevisionNum = rev.RevisionNum
	rec.u.ContentHash = int64(crc32.ChecksumIEEE(rev.Data))
	return s.recordMutation(rec, rev)
}

func (s *Server) createUnit(r *http.Request) (int, any, error) {
	var in confighub.Unit
	sp, exists, err := s.createIn(r, &in)
	if err != nil {
		return 0, nil, err
	}
	if err := checkSlug("unit", in.Slug); err != nil {
		return 0, nil, err
	}
	if cur := s.unitBySlug(sp.SpaceID, in.Slug); cur != nil {
		if exists {
			return http.StatusOK, cur.u, nil
		}
		return 0, nil, errf(http.StatusConflict, "unit %q already exists in space %s", in.Slug, sp.Slug)
	}
	if in.ToolchainType == "" {
		return 0, nil, errf(http.StatusBadRequest, "unit ToolchainType is required")
	}
	if err := s.checkTarget(sp.SpaceID, in.TargetID); err != nil {
		return 0, nil, err
	}
	now := s.now()
	u := confighub.Unit{
		UnitID: uuid.New(), SpaceID: sp.SpaceID, OrganizationID: s.orgID, Slug: in.Slug, DisplayName: in.DisplayName,
		ToolchainType: in.ToolchainType, Labels: in.Labels, Annotations: in.Annotations, TargetID: in.TargetID,
		LastChangeDescription: in.LastChangeDescription, MutationSources: []json.RawMessage{}, Version: 1,
		CreatedAt: now, UpdatedAt: now, EntityType: "Unit",
	}
	data, source := in.Data, "Create"
	var up *unitRec
	q := r.URL.Query()
	upUnit, upSpace := q.Get("upstream_unit_id"), q.Get("upstream_space_id")
	if upUnit != "" || upSpace != "" {
		uid, err1 := uuid.Parse(upUnit)
		sid, err2 := uuid.Parse(upSpace)
		if err1 != nil || err2 != nil {
			return 0, nil, errf(http.StatusBadRequest, "upstream_unit_id and upstream_space_id must both be UUIDs")
		}
		up = s.units[uid]
		if up == nil || up.u.SpaceID != sid {
			return 0, nil, errf(http.StatusNotFound, "upstream unit %s not found in space %s", uid, sid)
		}
		if len(in.Data) > 0 {
			return 0, nil, errf(http.StatusBadRequest, "a clone takes its data from the upstream unit; do not send Data")
		}
		data, source = up.u.Data, "Clone"
		u.UpstreamUnitID, u.UpstreamSpaceID, u.UpstreamOrganizationID = uid, sid, s.orgID
		u.UpstreamRevisionNum = up.u.HeadRevisionNum
		if u.ToolchainType != up.u.ToolchainType {
			return 0, nil, errf(http.StatusBadRequest, "clone ToolchainType %q differs from upstream %q", u.ToolchainType, up.u.ToolchainType)
		}
	}
	rec := &unitRec{u: u, status: confighub.UnitStatus{Action: "N/A", ActionResult: confighub.ResultNone, Status: confighub.StatusNone}}
	m := s.appendRevision(rec, data, source)
	if up != nil {
		// The newest API models the upstream relationship as a Link of UpdateType UpgradeUnit.
		l := s.addLink(rec, up, "", confighub.LinkUpdateUpgradeUnit)
		l.UpstreamLastMergedRevisionNum, l.DownstreamLastMergedRevisionNum = up.u.HeadRevisionNum, rec.u.HeadRevisionNum
		m.MergeSourceID, m.LinkID, m.MergeEndRevisionNum = up.u.UnitID, l.LinkID, up.u.HeadRevisionNum
	}
	s.units[u.UnitID] = rec
	s.unitOrder = append(s.unitOrder, u.UnitID)
	return http.StatusOK, rec.u, nil
}

// resolveRevision resolves a revision reference in exactly the forms the SDK
// documents: HeadRevisionNum, LiveRevisionNum, LastAppliedRevisionNum,
// PreviousLiveRevisionNum, a positive number, Tag:<uuid>, ChangeSet:<uuid> or
// Revision:<uuid>, each optionally prefixed with Before:. Anything else is a
// 400 (cub resolves negative numbers itself before sending).
func (s *Server) resolveRevision(rec *unitRec, spec string) (*confighub.Revision, error) {
	orig := spec
	spec, before := strings.CutPrefix(spec, "Before:")
	var num int64
	switch {
	case spec == confighub.HeadRevisionNum:
		num = rec.u.HeadRevisionNum
	case spec == confighub.LiveRevisionNum:
		num = rec.u.LiveRevisionNum
	case spec == confighub.LastAppliedRevisionNum:
		num = rec.u.LastAppliedRevisionNum
	case spec == confighub.PreviousLiveRevisionNum:
		num = rec.u.PreviousLiveRevisionNum
	case strings.HasPrefix(spec, "Tag:"):
		id, err := uuid.Parse(strings.TrimPrefix(spec, "Tag:"))
		if err != nil {
			return nil, errf(http.StatusBadRequest, "bad revision reference %q", orig)
		}
		for _, rev := range rec.revs {
			if _, ok := rev.Tags[id.String()]; ok {
				num = rev.RevisionNum // the latest tagged revision wins
			}
		}
		if num == 0 {
			return nil, errf(http.StatusBadRequest, "unit %s has no revision tagged %s", rec.u.Slug, id)
		}
	case strings.HasPrefix(spec, "Revision:"):
		id, err := uuid.Parse(strings.TrimPrefix(spec, "Revision:"))
		if err != nil {
			return nil, errf(http.StatusBadRequest, "bad revision reference %q", orig)
		}
		for _, rev := range rec.revs {
			if rev.RevisionID == id {
				num = rev.RevisionNum
			}
		}
		if num == 0 {
			return nil, errf(http.StatusBadRequest, "revision %s is not a revision of unit %s", id, rec.u.Slug)
		}
	case strings.HasPrefix(spec, "ChangeSet:"):
		if _, err := uuid.Parse(strings.TrimPrefix(spec, "ChangeSet:")); err != nil {
			return nil, errf(http.StatusBadRequest, "bad revision reference %q", orig)
		}
		// The stand-in has no change sets, so no revision belongs to one.
		return nil, errf(http.StatusBadRequest, "unit %s has no revision in change set %s", rec.u.Slug, strings.TrimPrefix(spec, "ChangeSet:"))
	default:
		n, err := strconv.ParseInt(spec, 10, 64)
		if err != nil || n <= 0 || strings.TrimLeft(spec, "0123456789") != "" {
			return nil, errf(http.StatusBadRequest, "bad revision reference %q: use HeadRevisionNum, LiveRevisionNum, "+
				"LastAppliedRevisionNum, PreviousLiveRevisionNum, a revision number, Tag:<uuid>, ChangeSet:<uuid> or "+
				"Revision:<uuid>, optionally prefixed with Before:", orig)
		}
		num = n
	}
	if before {
		num--
	}
	if num <= 0 || num > int64(len(rec.revs)) {
		return nil, errf(http.StatusBadRequest, "unit %s has no revision for %q (resolves to %d)", rec.u.Slug, orig, num)
	}
	return rec.revs[num-1], nil
}

// updateUnit applies the caller-owned fields of next plus the upgrade /
// restore / revision_id parameters. It validates everything before changing
// anything.
func (s *Server) updateUnit(rec *unitRec, next confighub.Unit, q url.Values) error {
	upgrade := q.Get("upgrade") == "true"
	restore, revID := q.Get("restore"), q.Get("revision_id")
	if upgrade && (restore != "" || revID != "") || restore != "" && revID != "" {
		return errf(http.StatusBadRequest, "upgrade, restore and revision_id are mutually exclusive")
	}
	if err := checkSlug("unit", next.Slug); err != nil {
		return err
	}
	if next.Slug != rec.u.Slug && s.unitBySlug(rec.u.SpaceID, next.Slug) != nil {
		return errf(http.StatusConflict, "unit %q already exists in this space", next.Slug)
	}
	if err := s.checkTarget(rec.u.SpaceID, next.TargetID); err != nil {
		return err
	}
	data, source, force := next.Data, "Update", false
	var upHead, restored int64
	switch {
	case restore != "" || revID != "":
		var rev *confighub.Revision
		var err error
		if revID != "" {
			rev, err = s.resolveRevision(rec, "Revision:"+revID)
		} else {
			rev, err = s.resolveRevision(rec, restore)
		}
		if err != nil {
			return err
		}
		data, source, force, restored = rev.Data, "Restore", true, rev.RevisionNum
	case upgrade:
		up := s.units[rec.u.UpstreamUnitID]
		if up == nil {
			return errf(http.StatusBadRequest, "unit %s has no upstream unit to upgrade from", rec.u.Slug)
		}
		var base []byte
		if n := rec.u.UpstreamRevisionNum; n > 0 && n <= int64(len(up.revs)) {
			base = up.revs[n-1].Data
		}
		data, source = upgradeData(base, data, up.u.Data), "Upgrade"
		upHead = up.u.HeadRevisionNum
	}
	rec.u.Slug, rec.u.DisplayName = next.Slug, next.DisplayName
	rec.u.Labels, rec.u.Annotations = next.Labels, next.Annotations
	rec.u.TargetID = next.TargetID
	rec.u.LastChangeDescription = next.LastChangeDescription
	if force || !bytes.Equal(data, rec.u.Data) {
		m := s.appendRevision(rec, data, source)
		m.RestoredRevisionNum = restored
		if upgrade {
			m.MergeSourceID, m.UpgradedFromUpstreamRevisionNum = rec.u.UpstreamUnitID, rec.u.UpstreamRevisionNum
			m.MergeBaseRevisionNum, m.MergeEndRevisionNum = rec.u.UpstreamRevisionNum, upHead
			if l := upgradeLink(rec); l != nil {
				m.LinkID = l.LinkID
			}
		}
	}
	if upgrade {
		rec.u.UpstreamRevisionNum = upHead
		if l := upgradeLink(rec); l != nil {
			l.UpstreamLastMergedRevisionNum, l.DownstreamLastMergedRevisionNum = upHead, rec.u.HeadRevisionNum
			l.Version++
			l.UpdatedAt = s.now()
		}
	}
	rec.u.Version++
	rec.u.UpdatedAt = s.now()
	return nil
}

func (s *Server) putUnit(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	var in confighub.Unit
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.Version != rec.u.Version {
		return 0, nil, errf(http.StatusConflict, "unit %s: stale Version %d (current %d); re-read and retry", rec.u.Slug, in.Version, rec.u.Version)
	}
	next := rec.u
	next.Slug, next.DisplayName, next.Labels, next.Annotations = in.Slug, in.DisplayName, in.Labels, in.Annotations
	next.Data, next.TargetID, next.LastChangeDescription = in.Data, in.TargetID, in.LastChangeDescription
	if err := s.updateUnit(rec, next, r.URL.Query()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rec.u, nil
}

// patched returns rec's unit with an RFC 7396 merge patch applied; `null` or
// an empty body changes nothing.
func patched(rec *unitRec, body []byte) (confighub.Unit, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return rec.u, nil
	}
	var patch any
	if err := json.Unmarshal(body, &patch); err != nil {
		return confighub.Unit{}, errf(http.StatusBadRequest, "invalid merge patch: %v", err)
	}
	if _, ok := patch.(map[string]any); !ok {
		return confighub.Unit{}, errf(http.StatusBadRequest, "a unit merge patch must be a JSON object")
	}
	merged := mergePatch(toMap(rec.u), patch)
	b, _ := json.Marshal(merged)
	var next confighub.Unit
	if err := json.Unmarshal(b, &next); err != nil {
		return confighub.Unit{}, errf(http.StatusBadRequest, "merge patch gives an invalid unit: %v", err)
	}
	return next, nil
}

func checkPatchContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/merge-patch+json" && mt != "application/json" {
		return errf(http.StatusUnsupportedMediaType, "PATCH takes application/merge-patch+json, not %s", mt)
	}
	return nil
}

func (s *Server) patchUnit(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	if err := checkPatchContentType(r); err != nil {
		return 0, nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 80<<20))
	next, err := patched(rec, body)
	if err != nil {
		return 0, nil, err
	}
	if err := s.updateUnit(rec, next, r.URL.Query()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rec.u, nil
}

func (s *Server) deleteUnit(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	// Its links go with it (a Link lives with its From unit).
	delete(s.units, rec.u.UnitID)
	for i, id := range s.unitOrder {
		if id == rec.u.UnitID {
			s.unitOrder = append(s.unitOrder[:i:i], s.unitOrder[i+1:]...)
			break
		}
	}
	return http.StatusOK, confighub.DeleteResponse{Message: fmt.Sprintf("deleted unit %s", rec.u.Slug)}, nil
}

func bulkElementError(err error, rec *unitRec) *confighub.ResponseError {
	re := &confighub.ResponseError{Message: err.Error(), Status: http.StatusInternalServerError, Type: "InternalServerError",
		ErrorMetadata: &confighub.ErrorMetadata{EntityType: "Unit", EntityID: rec.u.UnitID.String()}}
	if ae, ok := err.(*apiErr); ok {
		re.Status, re.Type = ae.status, ae.code
	}
	return re
}

func (s *Server) bulkUnits(r *http.Request) ([]*unitRec, error) {
	q := r.URL.Query()
	if strings.TrimSpace(q.Get("where")) == "" {
		return nil, errf(http.StatusBadRequest, "where is required for bulk operations")
	}
	f, err := queryWhere(q, unitSchema)
	if err != nil {
		return nil, err
	}
	var out []*unitRec
	for _, id := range s.unitOrder {
		if rec := s.units[id]; f.match(s.unitView(rec)) {
			out = append(out, rec)
		}
	}
	return out, nil
}

func bulkStatus(failed bool) int {
	if failed {
		return http.StatusMultiStatus
	}
	return http.StatusOK
}

func (s *Server) bulkPatchUnits(r *http.Request) (int, any, error) {
	if err := checkPatchContentType(r); err != nil {
		return 0, nil, err
	}
	recs, err := s.bulkUnits(r)
	if err != nil {
		return 0, nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 80<<20))
	out := []confighub.UnitCreateOrUpdateResponse{}
	failed := false
	for _, rec := range recs {
		next, err := patched(rec, body)
		if err == nil {
			err = s.updateUnit(rec, next, r.URL.Query())
		}
		if err != nil {
			failed = true
			out = append(out, confighub.UnitCreateOrUpdateResponse{Error: bulkElementError(err, rec)})
			continue
		}
		u := rec.u
		out = append(out, confighub.UnitCreateOrUpdateResponse{Unit: &u})
	}
	return bulkStatus(failed), out, nil
}

// ---- revisions ----

func (s *Server) listRevisions(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := queryWhere(r.URL.Query(), revisionSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Revision")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedRevision{}
	for _, rev := range rec.revs {
		if f.match(plainView("Revision", rev)) {
			out = append(out, s.extRevision(rec, rev, inc))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) revisionOf(r *http.Request) (*unitRec, *confighub.Revision, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(r, "r", "revision")
	if err != nil {
		return nil, nil, err
	}
	for _, rev := range rec.revs {
		if rev.RevisionID == id {
			return rec, rev, nil
		}
	}
	return nil, nil, errf(http.StatusNotFound, "revision %s not found for unit %s", id, rec.u.UnitID)
}

func (s *Server) getRevision(r *http.Request) (int, any, error) {
	rec, rev, err := s.revisionOf(r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Revision")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.extRevision(rec, rev, inc), nil
}

func (s *Server) getRevisionData(r *http.Request) (int, any, error) {
	_, rev, err := s.revisionOf(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rawBody(append([]byte(nil), rev.Data...)), nil
}

func (s *Server) liveState(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rawBody(append([]byte(nil), rec.u.LiveState...)), nil
}

// ---- events ----

func (s *Server) listEvents(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := queryWhere(r.URL.Query(), eventSchema)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.UnitEvent{}
	for _, ev := range rec.events {
		if f.match(plainView("UnitEvent", ev)) {
			out = append(out, *ev)
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) getEvent(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "e", "unit event")
	if err != nil {
		return 0, nil, err
	}
	for _, ev := range rec.events {
		if ev.UnitEventID == id {
			return http.StatusOK, *ev, nil
		}
	}
	return 0, nil, errf(http.StatusNotFound, "unit event %s not found", id)
}

// ---- tags ----

func (s *Server) listTags(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := queryWhere(r.URL.Query(), tagSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Tag")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedTag{}
	for _, id := range s.tagOrder {
		t := s.tags[id]
		if t.SpaceID == sp.SpaceID && f.match(plainView("Tag", t)) {
			out = append(out, s.extTag(t, inc))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) createTag(r *http.Request) (int, any, error) {
	var in confighub.Tag
	sp, exists, err := s.createIn(r, &in)
	if err != nil {
		return 0, nil, err
	}
	if err := checkSlug("tag", in.Slug); err != nil {
		return 0, nil, err
	}
	for _, t := range s.tags {
		if t.SpaceID == sp.SpaceID && t.Slug == in.Slug {
			if exists {
				return http.StatusOK, *t, nil
			}
			return 0, nil, errf(http.StatusConflict, "tag %q already exists in space %s", in.Slug, sp.Slug)
		}
	}
	now := s.now()
	t := &confighub.Tag{TagID: uuid.New(), SpaceID: sp.SpaceID, OrganizationID: s.orgID, Slug: in.Slug,
		DisplayName: in.DisplayName, Labels: in.Labels, Annotations: in.Annotations, Version: 1, CreatedAt: now, UpdatedAt: now}
	s.tags[t.TagID] = t
	s.tagOrder = append(s.tagOrder, t.TagID)
	return http.StatusOK, *t, nil
}

func (s *Server) bulkTag(r *http.Request) (int, any, error) {
	var in confighub.UnitTagRequest
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if s.tags[in.TagID] == nil {
		return 0, nil, errf(http.StatusNotFound, "tag %s not found", in.TagID)
	}
	// UnitTagRequest.Revision takes only these; numbers and Tag:/Revision: forms are restore-only.
	switch in.Revision {
	case confighub.HeadRevisionNum, confighub.LiveRevisionNum, confighub.LastAppliedRevisionNum, confighub.PreviousLiveRevisionNum, tagRemove:
	default:
		return 0, nil, errf(http.StatusBadRequest, "Revision %q is invalid: use HeadRevisionNum, LiveRevisionNum, "+
			"LastAppliedRevisionNum, PreviousLiveRevisionNum or Remove", in.Revision)
	}
	recs, err := s.bulkUnits(r)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.UnitTagResponse{}
	failed := false
	for _, rec := range recs {
		if in.Revision == tagRemove {
			for _, rev := range rec.revs {
				delete(rev.Tags, in.TagID.String())
			}
			out = append(out, confighub.UnitTagResponse{Message: fmt.Sprintf("removed tag from unit %s", rec.u.Slug)})
			continue
		}
		rev, err := s.resolveRevision(rec, in.Revision)
		if err != nil {
			failed = true
			out = append(out, confighub.UnitTagResponse{Error: bulkElementError(err, rec)})
			continue
		}
		rev.Tags[in.TagID.String()] = ""
		out = append(out, confighub.UnitTagResponse{Message: fmt.Sprintf("tagged revision %d of unit %s", rev.RevisionNum, rec.u.Slug)})
	}
	return bulkStatus(failed), out, nil
}
