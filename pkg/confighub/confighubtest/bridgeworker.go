package confighubtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// workerRec is a registered bridge worker and its connection, if any.
type workerRec struct {
	w        confighub.BridgeWorker
	statuses []confighub.BridgeWorkerStatus
	conn     *workerConn // nil while the worker is not connected
}

// workerConn is one open event stream. Events queue in pending (under the
// server lock) and the stream handler writes them.
type workerConn struct {
	pending   [][]byte
	wake      chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func newWorkerConn() *workerConn {
	return &workerConn{wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (c *workerConn) close() { c.closeOnce.Do(func() { close(c.closed) }) }

// workerSchema holds the BridgeWorker filter attributes the spec lists.
var workerSchema = newSchema("BridgeWorker", "Annotations, BridgeWorkerID, Condition, CreatedAt, DisplayName, IPAddress, "+
	"Labels, LastMessage, LastSeenAt, OrgRole, OrganizationID, Permissions, Slug, SpaceID, UpdatedAt, UserID",
	"Annotations, Labels, Permissions")

func init() { workerSchema.rel["BridgeWorker"] = workerSchema }

// workerRouteRE matches the routes a worker calls with its own secret.
var workerRouteRE = regexp.MustCompile(`^/api/bridge_worker/([^/]+)/(me|stream|action_result)$`)

func isWorkerRoute(path string) bool { return workerRouteRE.MatchString(path) }

// workerAuthorized checks the bearer of a worker route against that worker's
// secret; the user token does not open these routes.
func (s *Server) workerAuthorized(r *http.Request) bool {
	m := workerRouteRE.FindStringSubmatch(r.URL.Path)
	id, err := uuid.Parse(m[1])
	if err != nil {
		return false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	wr := s.workers[id]
	return ok && wr != nil && subtle.ConstantTimeCompare([]byte(tok), []byte(wr.w.Secret)) == 1
}

func (s *Server) workerStatus(wr *workerRec, status string) {
	wr.statuses = append(wr.statuses, confighub.BridgeWorkerStatus{BridgeWorkerStatusID: uuid.New(),
		BridgeWorkerID: wr.w.BridgeWorkerID, BridgeWorkerSlug: wr.w.Slug, SpaceID: wr.w.SpaceID, OrganizationID: s.orgID,
		IPAddress: wr.w.IPAddress, SeenAt: s.now(), Status: status})
}

// deliver queues an event on the worker's stream.
func (s *Server) deliver(wr *workerRec, ev eventMessage) {
	b, err := json.Marshal(ev)
	if err != nil {
		panic(fmt.Sprintf("confighubtest: encoding a worker event: %v", err)) // our own types: a bug
	}
	wr.conn.pending = append(wr.conn.pending, b)
	select {
	case wr.conn.wake <- struct{}{}:
	default:
	}
}

func (s *Server) workerIn(r *http.Request, space uuid.UUID) (*workerRec, error) {
	id, err := pathID(r, "w", "bridge worker")
	if err != nil {
		return nil, err
	}
	wr := s.workers[id]
	if wr == nil || (space != uuid.Nil && wr.w.SpaceID != space) {
		return nil, errf(http.StatusNotFound, "bridge worker %s not found", id)
	}
	return wr, nil
}

// workerOfPath is the worker of a worker-authenticated route.
func (s *Server) workerOfPath(r *http.Request) (*workerRec, error) { return s.workerIn(r, uuid.Nil) }

func (s *Server) targetCount(workerID uuid.UUID) int64 {
	var n int64
	for _, t := range s.targets {
		if t.BridgeWorkerID == workerID {
			n++
		}
	}
	return n
}

func (s *Server) extWorker(wr *workerRec) confighub.ExtendedBridgeWorker {
	w := wr.w
	ew := confighub.ExtendedBridgeWorker{BridgeWorker: &w, TargetCount: s.targetCount(w.BridgeWorkerID)}
	if sp := s.spaces[w.SpaceID]; sp != nil {
		c := *sp
		ew.Space = &c
	}
	return ew
}

func (s *Server) listWorkers(r *http.Request, space uuid.UUID) (int, any, error) {
	f, err := queryWhere(r.URL.Query(), workerSchema)
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedBridgeWorker{}
	for _, id := range s.workerOrder {
		wr := s.workers[id]
		if (space == uuid.Nil || wr.w.SpaceID == space) && f.match(plainView("BridgeWorker", wr.w)) {
			out = append(out, s.extWorker(wr))
		}
	}
	return http.StatusOK, out, nil
}

func (s *Server) listSpaceWorkers(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	return s.listWorkers(r, sp.SpaceID)
}

func (s *Server) listAllWorkers(r *http.Request) (int, any, error) { return s.listWorkers(r, uuid.Nil) }

func (s *Server) getWorker(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	wr, err := s.workerIn(r, sp.SpaceID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.extWorker(wr), nil
}

// createWorker is `cub worker create`. Like the other creates it takes
// allow_exists (CreateBridgeWorkerParams.AllowExists in the SDK's
// core/openapi/goclient-new/models.gen.go at 41892a1a): with true a duplicate
// slug answers the existing worker, Secret included, instead of 409.
func (s *Server) createWorker(r *http.Request) (int, any, error) {
	var in confighub.BridgeWorker
	sp, exists, err := s.createIn(r, &in)
	if err != nil {
		return 0, nil, err
	}
	if err := checkSlug("bridge worker", in.Slug); err != nil {
		return 0, nil, err
	}
	for _, id := range s.workerOrder {
		if wr := s.workers[id]; wr.w.SpaceID == sp.SpaceID && wr.w.Slug == in.Slug {
			if exists {
				return http.StatusOK, wr.w, nil
			}
			return 0, nil, errf(http.StatusConflict, "bridge worker %q already exists in space %s", in.Slug, sp.Slug)
		}
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	now := s.now()
	w := confighub.BridgeWorker{BridgeWorkerID: uuid.New(), SpaceID: sp.SpaceID, OrganizationID: s.orgID, Slug: in.Slug,
		DisplayName: in.DisplayName, Labels: in.Labels, Annotations: in.Annotations, Condition: confighub.WorkerDisconnected,
		Secret: "ch_" + hex.EncodeToString(secret), Version: 1, CreatedAt: now, UpdatedAt: now, EntityType: "BridgeWorker"}
	if w.DisplayName == "" {
		w.DisplayName = w.Slug
	}
	s.workers[w.BridgeWorkerID] = &workerRec{w: w}
	s.workerOrder = append(s.workerOrder, w.BridgeWorkerID)
	return http.StatusOK, w, nil
}

// patchWorker takes a merge patch of the caller-owned fields.
func (s *Server) patchWorker(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	wr, err := s.workerIn(r, sp.SpaceID)
	if err != nil {
		return 0, nil, err
	}
	var next confighub.BridgeWorker
	if err := readMergePatch(r, wr.w, &next, "bridge worker"); err != nil {
		return 0, nil, err
	}
	wr.w.DisplayName, wr.w.Labels, wr.w.Annotations = next.DisplayName, next.Labels, next.Annotations
	wr.w.Version++
	wr.w.UpdatedAt = s.now()
	return http.StatusOK, wr.w, nil
}

// deleteWorker removes a worker and its targets, unless a unit still points
// at one of them (422: the units would lose their worker).
func (s *Server) deleteWorker(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	wr, err := s.workerIn(r, sp.SpaceID)
	if err != nil {
		return 0, nil, err
	}
	var users []string
	for _, id := range s.unitOrder {
		rec := s.units[id]
		if t := s.targets[rec.u.TargetID]; t != nil && t.BridgeWorkerID == wr.w.BridgeWorkerID {
			users = append(users, rec.u.Slug)
		}
	}
	if len(users) > 0 {
		return 0, nil, errf(http.StatusUnprocessableEntity, "bridge worker %s has targets used by units %s; point them elsewhere first",
			wr.w.Slug, strings.Join(users, ", "))
	}
	for i := 0; i < len(s.targetOrder); i++ {
		if id := s.targetOrder[i]; s.targets[id].BridgeWorkerID == wr.w.BridgeWorkerID {
			delete(s.targets, id)
			s.targetOrder = append(s.targetOrder[:i:i], s.targetOrder[i+1:]...)
			i--
		}
	}
	if wr.conn != nil {
		wr.conn.close()
	}
	delete(s.workers, wr.w.BridgeWorkerID)
	for i, id := range s.workerOrder {
		if id == wr.w.BridgeWorkerID {
			s.workerOrder = append(s.workerOrder[:i:i], s.workerOrder[i+1:]...)
			break
		}
	}
	return http.StatusOK, confighub.DeleteResponse{Message: fmt.Sprintf("deleted bridge worker %s", wr.w.Slug)}, nil
}

func (s *Server) listWorkerStatuses(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	wr, err := s.workerIn(r, sp.SpaceID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, append([]confighub.BridgeWorkerStatus{}, wr.statuses...), nil
}

// workerMe is GET /bridge_worker/{id}/me: how a worker learns its slug.
func (s *Server) workerMe(r *http.Request) (int, any, error) {
	wr, err := s.workerOfPath(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, wr.w, nil
}

// advertise records the targets a connecting worker announces: one Target
// per AvailableTargets entry, in the worker's space, owned by the worker.
// It validates everything before changing anything.
func (s *Server) advertise(wr *workerRec, info confighub.WorkerInfo) error {
	type adv struct {
		slug, toolchain, provider, params string
		existing                          *confighub.Target
	}
	var advs []adv
	for _, ct := range info.BridgeWorkerInfo.SupportedConfigTypes {
		if ct.ToolchainType == "" || ct.ProviderType == "" {
			return errf(http.StatusBadRequest, "worker %s: a supported config type needs ToolchainType and ProviderType", wr.w.Slug)
		}
		for _, at := range ct.AvailableTargets {
			if err := checkSlug("target", at.Name); err != nil {
				return err
			}
			params, err := json.Marshal(at.Params)
			if err != nil {
				return errf(http.StatusBadRequest, "target %s: Params: %v", at.Name, err)
			}
			if at.Params == nil {
				params = []byte("{}")
			}
			a := adv{slug: at.Name, toolchain: ct.ToolchainType, provider: ct.ProviderType, params: string(params)}
			for _, t := range s.targets {
				if t.SpaceID == wr.w.SpaceID && t.Slug == at.Name {
					if t.BridgeWorkerID != wr.w.BridgeWorkerID {
						return errf(http.StatusConflict, "target %q in this space belongs to another worker (%s)", at.Name, t.BridgeWorkerID)
					}
					a.existing = t
				}
			}
			advs = append(advs, a)
		}
	}
	now := s.now()
	for _, a := range advs {
		if t := a.existing; t != nil {
			if t.ToolchainType != a.toolchain || t.ProviderType != a.provider || t.Parameters != a.params {
				t.ToolchainType, t.ProviderType, t.Parameters = a.toolchain, a.provider, a.params
				t.Version++
				t.UpdatedAt = now
			}
			continue
		}
		t := &confighub.Target{TargetID: uuid.New(), SpaceID: wr.w.SpaceID, OrganizationID: s.orgID,
			BridgeWorkerID: wr.w.BridgeWorkerID, Slug: a.slug, DisplayName: a.slug, ToolchainType: a.toolchain,
			ProviderType: a.provider, Parameters: a.params, Version: 1, CreatedAt: now, UpdatedAt: now}
		s.targets[t.TargetID] = t
		s.targetOrder = append(s.targetOrder, t.TargetID)
	}
	return nil
}

// workerStream is POST /bridge_worker/{id}/stream: the worker's connection.
// While it is open the worker is Ready and receives its operations and the
// server's heartbeats; when it closes the worker is Disconnected.
func (s *Server) workerStream(w http.ResponseWriter, r *http.Request) {
	var info confighub.WorkerInfo
	if err := decode(r, &info); err != nil {
		writeAPIErr(w, err)
		return
	}
	s.mu.Lock()
	wr, err := s.workerOfPath(r)
	if err == nil {
		err = s.advertise(wr, info)
	}
	if err != nil {
		s.mu.Unlock()
		writeAPIErr(w, err)
		return
	}
	if old := wr.conn; old != nil {
		old.close() // a reconnect replaces the old stream
	}
	conn := newWorkerConn()
	wr.conn = conn
	now := s.now()
	wr.w.ProvidedInfo = &info
	wr.w.Condition = confighub.WorkerReady
	wr.w.LastSeenAt = now
	wr.w.UpdatedAt = now
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		wr.w.IPAddress = host
	}
	s.workerStatus(wr, confighub.WorkerStatusConnected)
	slug, heartbeat := wr.w.Slug, s.heartbeat
	s.mu.Unlock()
	s.log.Info("confighubtest: worker connected", "worker", slug)
	defer s.disconnect(wr, conn)

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	hb := time.NewTicker(heartbeat)
	defer hb.Stop()
	write := func(b []byte) bool {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-conn.closed:
			return
		case <-s.ctx.Done():
			return
		case <-hb.C:
			b, _ := json.Marshal(eventMessage{Event: eventWorker, Data: workerEventRequest{Action: confighub.ActionHeartbeat,
				Payload: workerPayload{Timestamp: time.Now().UnixMicro()}}})
			if !write(b) {
				return
			}
		case <-conn.wake:
			s.mu.Lock()
			batch := conn.pending
			conn.pending = nil
			s.mu.Unlock()
			for _, b := range batch {
				if !write(b) {
					return
				}
			}
		}
	}
}

func (s *Server) disconnect(wr *workerRec, conn *workerConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	conn.close()
	if wr.conn != conn {
		return // replaced by a newer stream
	}
	wr.conn = nil
	wr.w.Condition = confighub.WorkerDisconnected
	wr.w.UpdatedAt = s.now()
	s.workerStatus(wr, confighub.WorkerStatusDisconnected)
	s.idle.Broadcast()
	s.log.Info("confighubtest: worker disconnected", "worker", wr.w.Slug)
}

// ---- targets ----

func (s *Server) listTargets(r *http.Request) (int, any, error) {
	sp, err := s.spaceOf(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := queryWhere(r.URL.Query(), targetSchema)
	if err != nil {
		return 0, nil, err
	}
	inc, err := parseInclude(r.URL.Query(), "Target")
	if err != nil {
		return 0, nil, err
	}
	out := []confighub.ExtendedTarget{}
	for _, id := range s.targetOrder {
		t := s.targets[id]
		if t.SpaceID == sp.SpaceID && f.match(plainView("Target", t)) {
			out = append(out, s.extTarget(t, inc))
		}
	}
	return http.StatusOK, out, nil
}

// createTarget creates a target by hand (cub target create): it must name
// the worker that will serve it, like the real API's required fields.
func (s *Server) createTarget(r *http.Request) (int, any, error) {
	var in confighub.Target
	sp, exists, err := s.createIn(r, &in)
	if err != nil {
		return 0, nil, err
	}
	if err := checkSlug("target", in.Slug); err != nil {
		return 0, nil, err
	}
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"BridgeWorkerID", in.BridgeWorkerID != uuid.Nil}, {"ToolchainType", in.ToolchainType != ""}, {"ProviderType", in.ProviderType != ""}} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return 0, nil, errf(http.StatusBadRequest, "target %s: %s required (a target belongs to a bridge worker: create one with cub worker create, or use the targets a running worker advertises)",
			in.Slug, strings.Join(missing, ", ")+map[bool]string{true: " is", false: " are"}[len(missing) == 1])
	}
	if wr := s.workers[in.BridgeWorkerID]; wr == nil || wr.w.SpaceID != sp.SpaceID {
		return 0, nil, errf(http.StatusBadRequest, "target %s: bridge worker %s does not exist in space %s", in.Slug, in.BridgeWorkerID, sp.Slug)
	}
	for _, t := range s.targets {
		if t.SpaceID == sp.SpaceID && t.Slug == in.Slug {
			if exists {
				return http.StatusOK, *t, nil
			}
			return 0, nil, errf(http.StatusConflict, "target %q already exists in space %s", in.Slug, sp.Slug)
		}
	}
	if in.Parameters != "" && !json.Valid([]byte(in.Parameters)) {
		return 0, nil, errf(http.StatusBadRequest, "target Parameters must be a JSON string")
	}
	now := s.now()
	t := &confighub.Target{TargetID: uuid.New(), SpaceID: sp.SpaceID, OrganizationID: s.orgID, BridgeWorkerID: in.BridgeWorkerID,
		Slug: in.Slug, DisplayName: in.DisplayName, ToolchainType: in.ToolchainType, ProviderType: in.ProviderType,
		Parameters: in.Parameters, Labels: in.Labels, Version: 1, CreatedAt: now, UpdatedAt: now}
	s.targets[t.TargetID] = t
	s.targetOrder = append(s.targetOrder, t.TargetID)
	return http.StatusOK, *t, nil
}
