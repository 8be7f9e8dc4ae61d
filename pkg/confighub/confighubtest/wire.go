package confighubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// This file holds the parts of the wire format taken from the newest SDK
// (see sdkCommit in conformance_test.go): include handling, the Link and
// Mutation entities, and the routes cub's list commands call.

// includeKeys are the include attributes each entity accepts, from the
// spec's "Supported attributes for <Entity> are …" lists. Keys the stand-in
// has no entity for (ChangeSetID, TriggerIDs, …) are accepted and fill nothing.
var includeKeys = map[string][]string{
	"Space": {"AttributeFilterID", "AttributeIDs", "OrganizationID", "TriggerFilterID", "TriggerIDs"},
	"Unit": {"ApprovedBy", "BridgeWorkerID", "ChangeSetID", "FromLinkID", "HeadMutationNum", "HeadRevisionNum",
		"LastAppliedRevisionNum", "LiveRevisionNum", "OrganizationID", "PreviousLiveRevisionNum", "SpaceID", "TargetID",
		"UnitEventID", "UpstreamSpaceID", "UpstreamUnitID"},
	"Revision": {"ChangeSetID", "OrganizationID", "SpaceID", "Tags", "UnitID", "UserID"},
	"Target":   {"BridgeWorkerID", "OrganizationID", "SpaceID", "TriggerFilterID", "TriggerIDs"},
	"Tag":      {"ChangeSetID", "OrganizationID", "SpaceID"},
	"Link":     {"FromUnitID", "OrganizationID", "SpaceID", "ToSpaceID", "ToUnitID", "TransformInvocationID"},
	"Mutation": {"InvocationID", "LinkID", "MergeSourceID", "OrganizationID", "RevisionID", "SpaceID", "TriggerID", "UnitID"},
}

// includes is a parsed include parameter.
type includes map[string]bool

func parseInclude(q url.Values, entity string) (includes, error) {
	inc := includes{}
	raw := q.Get("include")
	if strings.TrimSpace(raw) == "" {
		return inc, nil
	}
	allowed := includeKeys[entity]
	for _, k := range strings.Split(raw, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(allowed, k) {
			return nil, errf(http.StatusBadRequest, "invalid include attribute %q for %s; supported attributes are %s",
				k, entity, strings.Join(allowed, ", "))
		}
		inc[k] = true
	}
	return inc, nil
}

// createIn reads what every create in a space starts with: the space, the
// allow_exists parameter and the JSON body.
func (s *Server) createIn(r *http.Request, in any) (*confighub.Space, bool, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return nil, false, err
	}
	exists, err := allowExists(r.URL.Query())
	if err != nil {
		return nil, false, err
	}
	return sp, exists, decode(r, in)
}

// allowExists reads the allow_exists parameter of creates ("true"/"false").
func allowExists(q url.Values) (bool, error) {
	switch v := q.Get("allow_exists"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, errf(http.StatusBadRequest, "allow_exists must be true or false, not %q", v)
	}
}

// bridgeWorkerCount counts the bridge workers of a space (ExtendedSpace.TotalBridgeWorkerCount).
func (s *Server) bridgeWorkerCount(spaceID uuid.UUID) int {
	n := 0
	for _, wr := range s.workers {
		if wr.w.SpaceID == spaceID {
			n++
		}
	}
	return n
}

func spaceCopy(sp *confighub.Space) *confighub.Space {
	if sp == nil {
		return nil
	}
	c := *sp
	return &c
}

func unitCopy(rec *unitRec) *confighub.Unit {
	if rec == nil {
		return nil
	}
	c := rec.u
	return &c
}

func revCopy(rec *unitRec, num int64) *confighub.Revision {
	if num <= 0 || num > int64(len(rec.revs)) {
		return nil
	}
	c := *rec.revs[num-1]
	return &c
}

// extUnitWith builds an ExtendedUnit with only the parts inc asks for.
func (s *Server) extUnitWith(rec *unitRec, inc includes) confighub.ExtendedUnit {
	eu := confighub.ExtendedUnit{Unit: unitCopy(rec)}
	u := rec.u
	if inc[confighub.IncludeSpace] {
		eu.Space = spaceCopy(s.spaces[u.SpaceID])
	}
	if inc[confighub.IncludeTarget] {
		if t := s.targets[u.TargetID]; t != nil {
			c := *t
			eu.Target = &c
		}
	}
	if inc[confighub.IncludeUpstreamUnit] {
		eu.UpstreamUnit = unitCopy(s.units[u.UpstreamUnitID])
	}
	if inc[confighub.IncludeUpstreamSpace] {
		eu.UpstreamSpace = spaceCopy(s.spaces[u.UpstreamSpaceID])
	}
	if inc[confighub.IncludeUnitEvent] {
		if n := len(rec.events); n > 0 {
			c := *rec.events[n-1]
			eu.LatestUnitEvent = &c
		}
		st := rec.status
		eu.UnitStatus = &st
	}
	if inc[confighub.IncludeHeadRevision] {
		eu.HeadRevision = revCopy(rec, u.HeadRevisionNum)
	}
	if inc[confighub.IncludeLiveRevision] {
		eu.LiveRevision = revCopy(rec, u.LiveRevisionNum)
	}
	if inc[confighub.IncludeLastAppliedRevision] {
		eu.LastAppliedRevision = revCopy(rec, u.LastAppliedRevisionNum)
	}
	if inc[confighub.IncludePreviousLiveRevision] {
		eu.PreviousLiveRevision = revCopy(rec, u.PreviousLiveRevisionNum)
	}
	if inc[confighub.IncludeHeadMutation] {
		if n := len(rec.muts); n > 0 {
			c := *rec.muts[n-1]
			eu.HeadMutation = &c
		}
	}
	return eu
}

func (s *Server) extRevision(rec *unitRec, rev *confighub.Revision, inc includes) confighub.ExtendedRevision {
	c := *rev
	er := confighub.ExtendedRevision{Revision: &c}
	if inc["SpaceID"] {
		er.Space = spaceCopy(s.spaces[rev.SpaceID])
	}
	if inc["UnitID"] {
		er.Unit = unitCopy(rec)
	}
	if inc["UserID"] && rev.UserID != uuid.Nil {
		er.User = s.user(rev.UserID)
	}
	return er
}

// user returns the User for an ID; the stand-in knows one member.
func (s *Server) user(id uuid.UUID) *confighub.User {
	if id != s.me.UserID {
		return nil
	}
	return &confighub.User{UserID: s.me.UserID, Username: s.me.Username, DisplayName: s.me.DisplayName,
		Slug: s.me.Slug, ExternalID: s.me.ExternalID}
}

// ---- routes ----

func (s *Server) wireRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/space/{s}/unit/{u}/live_state", s.handle(s.liveState))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/data", s.handle(s.unitData))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/mutation", s.handle(s.listMutations))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/mutation/{m}", s.handle(s.getMutation))
	m.HandleFunc("GET /api/space/{s}/link", s.handle(s.listLinks))
	m.HandleFunc("POST /api/space/{s}/link", s.handle(s.createLink))
	m.HandleFunc("GET /api/space/{s}/link/{l}", s.handle(s.getLink))
	m.HandleFunc("DELETE /api/space/{s}/link/{l}", s.handle(s.deleteLink))
	m.HandleFunc("GET /api/space/{s}/target/{t}", s.handle(s.getTarget))
	m.HandleFunc("GET /api/space/{s}/tag/{t}", s.handle(s.getTag))
	m.HandleFunc("GET /api/unit_event", s.handle(s.listAllEvents))
	m.HandleFunc("GET /api/revision", s.handle(s.listAllRevisions))
}

func (s *Server) unitData(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rawBody(append([]byte(nil), rec.u.Data...)), nil
}

// ---- mutations ----

// recordMutation appends the mutation of a new revision.
func (s *Server) recordMutation(rec *unitRec, rev *confighub.Revision) *confighub.Mutation {
	m := &confighub.Mutation{MutationID: uuid.New(), MutationNum: int64(len(rec.muts) + 1), OrganizationID: s.orgID,
		SpaceID: rev.SpaceID, UnitID: rev.UnitID, RevisionID: rev.RevisionID, RevisionNum: rev.RevisionNum,
		Version: 1, CreatedAt: rev.CreatedAt, UpdatedAt: rev.CreatedAt, EntityType: "Mutation"}
	rec.muts = append(rec.muts, m)
	rec.u.HeadMutationNum = m.MutationNum
	return m
}

func (s *Server) extMutation(rec *unitRec, m *confighub.Mutation, inc includes) confighub.ExtendedMutation {
	c := *m
	em := confighub.ExtendedMutation{Mutation: &c}
	if inc["RevisionID"] {
		em.Revision = revCopy(rec, m.RevisionNum)
	}
	if inc["UnitID"] {
		em.Unit = unitCopy(rec)
	}
	if inc["SpaceID"] {
		em.Space = spaceCopy(s.spaces[m.SpaceID])
	}
	if inc["MergeSourceID"] {
		em.MergeSource = unitCopy(s.units[m.MergeSourceID])
	}
	if inc["LinkID"] {
		if l := s.linkByID(m.LinkID); l != nil {
			cl := *l
			em.Link = &cl
		}
	}
	return em
}

func (s *Server) listMutations(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	f, err := queryWhere(q, mutationSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(q, "Mutation")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedMutation{}
	for _, m := range rec.muts {
		if f.match(plainView("Mutation", m)) {
			out = append(out, s.extMutation(rec, m, inc))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) getMutation(r *http.Request) (int, any, error) {
	rec, err := s.unitOf(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "m", "mutation")
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Mutation")
	if err != nil {
		return 0, nil, err
	}
	for _, m := range rec.muts {
		if m.MutationID == id {
			return http.StatusOK, s.extMutation(rec, m, inc), nil
		}
	}
	return 0, nil, errf(http.StatusNotFound, "mutation %s not found for unit %s", id, rec.u.UnitID)
}

// ---- links ----

func (s *Server) linkByID(id uuid.UUID) *confighub.Link {
	if id == uuid.Nil {
		return nil
	}
	for _, rec := range s.units {
		for _, l := range rec.links {
			if l.LinkID == id {
				return l
			}
		}
	}
	return nil
}

// spaceLinks returns the links of a space in unit then creation order.
func (s *Server) spaceLinks(space uuid.UUID) []*confighub.Link {
	var out []*confighub.Link
	for _, id := range s.unitOrder {
		if rec := s.units[id]; rec.u.SpaceID == space {
			out = append(out, rec.links...)
		}
	}
	return out
}

// addLink stores a link on its From unit and lists it in the unit's FromLinkID.
func (s *Server) addLink(from *unitRec, to *unitRec, slug, updateType string) *confighub.Link {
	now := s.now()
	l := &confighub.Link{LinkID: uuid.New(), SpaceID: from.u.SpaceID, OrganizationID: s.orgID, Slug: slug,
		FromUnitID: from.u.UnitID, ToUnitID: to.u.UnitID, ToSpaceID: to.u.SpaceID, UpdateType: updateType,
		Version: 1, CreatedAt: now, UpdatedAt: now, EntityType: "Link"}
	if l.Slug == "" {
		l.Slug = s.freeLinkSlug(from, to)
	}
	from.links = append(from.links, l)
	from.u.FromLinkID = append(slices.Clone(from.u.FromLinkID), l.LinkID)
	return l
}

// freeLinkSlug makes the slug the server generates for a link created with
// an empty one (the real format is not documented).
func (s *Server) freeLinkSlug(from, to *unitRec) string {
	base := from.u.Slug + "-to-" + to.u.Slug
	slug := base
	for i := 2; s.linkBySlug(from.u.SpaceID, slug) != nil; i++ {
		slug = fmt.Sprintf("%s-%d", base, i)
	}
	return slug
}

func (s *Server) linkBySlug(space uuid.UUID, slug string) *confighub.Link {
	for _, l := range s.spaceLinks(space) {
		if l.Slug == slug {
			return l
		}
	}
	return nil
}

func (s *Server) extLink(l *confighub.Link, inc includes) confighub.ExtendedLink {
	c := *l
	el := confighub.ExtendedLink{Link: &c}
	if inc["SpaceID"] {
		el.Space = spaceCopy(s.spaces[l.SpaceID])
	}
	if inc["FromUnitID"] {
		el.FromUnit = unitCopy(s.units[l.FromUnitID])
	}
	if inc["ToUnitID"] {
		el.ToUnit = unitCopy(s.units[l.ToUnitID])
	}
	if inc["ToSpaceID"] {
		el.ToSpace = spaceCopy(s.spaces[l.ToSpaceID])
	}
	return el
}

func (s *Server) listLinks(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	f, err := queryWhere(q, linkSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(q, "Link")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedLink{}
	for _, l := range s.spaceLinks(sp.SpaceID) {
		if f.match(plainView("Link", l)) {
			out = append(out, s.extLink(l, inc))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) linkOf(r *http.Request) (*confighub.Link, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "l", "link")
	if err != nil {
		return nil, err
	}
	l := s.linkByID(id)
	if l == nil || l.SpaceID != sp.SpaceID {
		return nil, errf(http.StatusNotFound, "link %s not found in space %s", id, sp.SpaceID)
	}
	return l, nil
}

func (s *Server) getLink(r *http.Request) (int, any, error) {
	l, err := s.linkOf(r)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Link")
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.extLink(l, inc), nil
}

func (s *Server) createLink(r *http.Request) (int, any, error) {
	var in confighub.Link
	sp, exists, err := s.createIn(r, &in)
	if err != nil {
		return 0, nil, err
	}
	if in.Slug != "" {
		if err := checkSlug("link", in.Slug); err != nil {
			return 0, nil, err
		}
		if l := s.linkBySlug(sp.SpaceID, in.Slug); l != nil {
			if exists {
				return http.StatusOK, *l, nil
			}
			return 0, nil, errf(http.StatusConflict, "link %q already exists in space %s", in.Slug, sp.Slug)
		}
	}
	from := s.units[in.FromUnitID]
	if from == nil || from.u.SpaceID != sp.SpaceID {
		return 0, nil, errf(http.StatusBadRequest, "FromUnitID %s is not a unit of space %s (a link lives in its From unit's space)", in.FromUnitID, sp.Slug)
	}
	to := s.units[in.ToUnitID]
	if to == nil || (in.ToSpaceID != uuid.Nil && to.u.SpaceID != in.ToSpaceID) {
		return 0, nil, errf(http.StatusBadRequest, "ToUnitID %s is not a unit (of ToSpaceID %s)", in.ToUnitID, in.ToSpaceID)
	}
	if in.FromUnitID == in.ToUnitID {
		return 0, nil, errf(http.StatusBadRequest, "a link cannot connect unit %s to itself", from.u.Slug)
	}
	ut := in.UpdateType
	if ut == "" {
		ut = "NeedsProvides"
	}
	switch ut {
	case "NeedsProvides", "MergeUnits", "None", "Insert", "Upsert", "TransformPaths":
	case confighub.LinkUpdateUpgradeUnit:
		if from.u.UpstreamUnitID != uuid.Nil {
			return 0, nil, errf(http.StatusBadRequest, "unit %s already has an upstream unit", from.u.Slug)
		}
		from.u.UpstreamUnitID, from.u.UpstreamSpaceID, from.u.UpstreamOrganizationID = to.u.UnitID, to.u.SpaceID, s.orgID
	default:
		return 0, nil, errf(http.StatusBadRequest, "unknown link UpdateType %q", in.UpdateType)
	}
	l := s.addLink(from, to, in.Slug, ut)
	l.DisplayName, l.Labels, l.Annotations, l.AutoUpdate = in.DisplayName, in.Labels, in.Annotations, in.AutoUpdate
	return http.StatusOK, *l, nil
}

// deleteLink removes a link; deleting a clone's UpgradeUnit link removes its upstream.
func (s *Server) deleteLink(r *http.Request) (int, any, error) {
	l, err := s.linkOf(r)
	if err != nil {
		return 0, nil, err
	}
	from := s.units[l.FromUnitID]
	from.links = slices.DeleteFunc(from.links, func(x *confighub.Link) bool { return x.LinkID == l.LinkID })
	from.u.FromLinkID = slices.DeleteFunc(slices.Clone(from.u.FromLinkID), func(id uuid.UUID) bool { return id == l.LinkID })
	if len(from.u.FromLinkID) == 0 {
		from.u.FromLinkID = nil
	}
	if l.UpdateType == confighub.LinkUpdateUpgradeUnit && from.u.UpstreamUnitID == l.ToUnitID {
		from.u.UpstreamUnitID, from.u.UpstreamSpaceID, from.u.UpstreamOrganizationID = uuid.Nil, uuid.Nil, uuid.Nil
		from.u.UpstreamRevisionNum = 0
	}
	from.u.Version++
	from.u.UpdatedAt = s.now()
	return http.StatusOK, confighub.DeleteResponse{Message: fmt.Sprintf("deleted link %s", l.Slug)}, nil
}

// upgradeLink is the clone's UpgradeUnit link, if any.
func upgradeLink(rec *unitRec) *confighub.Link {
	for _, l := range rec.links {
		if l.UpdateType == confighub.LinkUpdateUpgradeUnit && l.ToUnitID == rec.u.UpstreamUnitID {
			return l
		}
	}
	return nil
}

// ---- single targets and tags ----

func (s *Server) getTarget(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "t", "target")
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Target")
	if err != nil {
		return 0, nil, err
	}
	t := s.targets[id]
	if t == nil || t.SpaceID != sp.SpaceID {
		return 0, nil, errf(http.StatusNotFound, "target %s not found in space %s", id, sp.SpaceID)
	}
	return http.StatusOK, s.extTarget(t, inc), nil
}

func (s *Server) extTarget(t *confighub.Target, inc includes) confighub.ExtendedTarget {
	c := *t
	et := confighub.ExtendedTarget{Target: &c}
	if inc["SpaceID"] {
		et.Space = spaceCopy(s.spaces[t.SpaceID])
	}
	if wr := s.workers[t.BridgeWorkerID]; inc["BridgeWorkerID"] && wr != nil {
		w := wr.w
		w.Secret = "" // the worker's secret is no part of a target's answer
		et.BridgeWorker = &w
	}
	return et
}

func (s *Server) getTag(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	id, err := pathID(r, "t", "tag")
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Tag")
	if err != nil {
		return 0, nil, err
	}
	t := s.tags[id]
	if t == nil || t.SpaceID != sp.SpaceID {
		return 0, nil, errf(http.StatusNotFound, "tag %s not found in space %s", id, sp.SpaceID)
	}
	return http.StatusOK, s.extTag(t, inc), nil
}

func (s *Server) extTag(t *confighub.Tag, inc includes) confighub.ExtendedTag {
	c := *t
	et := confighub.ExtendedTag{Tag: &c}
	if inc["SpaceID"] {
		et.Space = spaceCopy(s.spaces[t.SpaceID])
	}
	return et
}

// ---- organization-wide lists: at most one entry per unit ----

// listAllEvents is ListAllUnitEvents: per unit, its latest event that matches.
func (s *Server) listAllEvents(r *http.Request) (int, any, error) {
	f, err := queryWhere(r.URL.Query(), eventSchema)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.UnitEvent{}
	for _, id := range s.unitOrder {
		rec := s.units[id]
		for i := len(rec.events) - 1; i >= 0; i-- {
			if f.match(plainView("UnitEvent", rec.events[i])) {
				out = append(out, *rec.events[i])
				break
			}
		}
	}
	return http.StatusOK, out, nil
}

// listAllRevisions is ListAllRevisions: per unit, its latest revision that matches.
func (s *Server) listAllRevisions(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	f, err := queryWhere(q, revisionSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(q, "Revision")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedRevision{}
	for _, id := range s.unitOrder {
		rec := s.units[id]
		for i := len(rec.revs) - 1; i >= 0; i-- {
			if f.match(plainView("Revision", rec.revs[i])) {
				out = append(out, s.extRevision(rec, rec.revs[i], inc))
				break
			}
		}
	}
	return http.StatusOK, out, nil
}
