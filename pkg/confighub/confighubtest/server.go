// Package confighubtest is an in-process stand-in for the ConfigHub REST API
// subset in shared/confighub-api.md: spaces, units with revisions, upstream
// clones and upgrade, restore, tags, targets, bridge workers, links,
// mutations, queued operations with unit events, the `where` filter and
// `include`. Its wire format follows the SDK's generated models;
// conformance_test.go checks it (docs/confighub.md names the commit).
//
// As in ConfigHub, the server applies nothing itself. Targets belong to
// bridge workers: a Worker (StartWorker) registers itself in a space with a
// user token, connects over HTTP with its own secret, advertises its targets
// and executes the operations delivered on its event stream, reporting each
// status back; a Backend does the Kubernetes half (NoopBackend without a
// cluster). Apply, refresh and destroy answer 422 "Bridge worker
// unavailable" when the unit's target has no connected worker.
//
// Use NewServer in tests (it listens on loopback like httptest.Server), or New
// to get an http.Handler for a standalone process (see test/standin).
//
// Simplifications (documented deviations from the real server):
//   - one organization; every valid user token is the same member, and a
//     worker's secret opens only its own /bridge_worker/{id}/{me,stream,action_result};
//   - the worker protocol runs over HTTP/1.1 (the SDK worker speaks HTTP/2);
//     heartbeats go every 30s (WithHeartbeatInterval) and a worker is Ready
//     exactly while its stream is open: there is no Unresponsive or NotReady;
//   - a worker's stream ending leaves its unfinished operations as they are
//     (their units keep their last status); nothing is redelivered;
//   - targets a worker stops advertising are kept; a target is never moved
//     from one worker to another;
//   - UnitStatus.Status is the latest status of the unit's newest operation
//     (an ActionStatusType: Pending, Progressing, Completed, Failed, Aborted)
//     and UnitStatus.Drift stays empty: the spec does not enumerate either,
//     so read ActionResult (RefreshAndDrifted) for drift;
//   - an apply moves PreviousLiveRevisionNum only when LiveRevisionNum
//     changes, so re-applying the live revision keeps the rollback target;
//   - a refresh that is not a dry run and finds drift adopts the worker's
//     merged data as a new head revision (Source "Refresh");
//   - upgrade does a three-way merge of the unit's multi-document YAML (base =
//     the upstream revision last merged, theirs = upstream head, ours = the
//     unit's data): the downstream's own changes survive at field level, lists
//     are replaced wholesale; if any document does not parse, upstream head is
//     copied as is;
//   - a PUT/PATCH whose Data is identical to the head does not append a
//     revision; restore always does;
//   - a duplicate slug on create is 409 unless allow_exists=true, which answers
//     200 with the existing entity (the spec documents allow_exists but not the
//     status of a duplicate);
//   - apply with apply gates is 422 (not confirmed);
//   - raw endpoints (live_state, data, revision data) answer application/octet-stream;
//   - the request log (Requests) and faults without a PathPattern leave the
//     worker protocol routes alone;
//   - include: UnitEventID fills both LatestUnitEvent and UnitStatus (cub calls
//     UnitStatus synthetic; which key fills it is not documented); include keys
//     naming entities the stand-in lacks (ChangeSetID, BridgeWorkerID, Trigger*,
//     Attribute*, OrganizationID, ApprovedBy, FromLinkID) are accepted and fill
//     nothing; ExtendedSpace counts of those entities are 0 and
//     TriggerCountByEventType is empty;
//   - where: the attribute lists are the spec's; attributes the stand-in keeps
//     no value for (DataHash, DriftReconciliationMode, Values, …) are null;
//     FromLink.*-style list filters and `filter`/`contains` are not supported;
//   - a clone's upstream is also a Link of UpdateType UpgradeUnit (deleting it
//     removes the upstream); links of other types are stored but never resolved,
//     a generated link slug is <from>-to-<to> (the real format is unknown), and
//     deleting a unit deletes its own links but leaves links to it;
//   - each revision has one Mutation (MergeSourceID for clone and upgrade,
//     RestoredRevisionNum for restore); MutationSources is always empty;
//   - ChangeSet:<uuid> references are accepted in form but never resolve (no
//     change sets); org-wide /revision and /unit_event return each unit's
//     latest match.
package confighubtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// Fault is an injected failure, consumed in the order injected.
type Fault struct {
	Method        string        // "" matches any method
	PathPattern   string        // regular expression matched against the request path (with /api); "" matches any
	Status        int           // answer with this status and a {"Code","Message"} body; 0: no status fault
	RetryAfter    time.Duration // with Status: a Retry-After header in whole seconds
	Delay         time.Duration // sleep first (the request's context cancels it)
	Reset         bool          // hijack and close the connection without answering
	AfterHandling bool          // handle the request for real first (the change lands), then fail/reset
	Times         int           // how many requests it hits; 0 means 1
}

type faultState struct {
	Fault
	re   *regexp.Regexp
	left int
}

// Request is one request the server saw.
type Request struct {
	Method    string
	Path      string
	Query     string
	Status    int // 0 when the connection was reset
	RequestID string
	Faulted   bool
}

// Option configures a Server.
type Option func(*Server)

// WithToken sets the accepted bearer token (default: random).
func WithToken(tok string) Option { return func(s *Server) { s.Token = tok } }

// WithUser sets what GET /me returns.
func WithUser(m confighub.OrganizationMember) Option { return func(s *Server) { s.me = m } }

// WithHeartbeatInterval sets how often the server sends a heartbeat down
// each worker stream (default 30s); every answer refreshes the worker's
// LastSeenAt.
func WithHeartbeatInterval(d time.Duration) Option { return func(s *Server) { s.heartbeat = d } }

// WithLogger sets the server's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// Server is the stand-in. It is an http.Handler; NewServer also listens.
type Server struct {
	URL   string // set by NewServer (or by the caller of New)
	Token string

	mux     *http.ServeMux
	httpSrv *httptest.Server
	log     *slog.Logger
	reqSeq  atomic.Int64

	ctx    context.Context // ends with Close; ends every worker stream
	cancel context.CancelFunc
	once   sync.Once

	mu          sync.Mutex
	idle        *sync.Cond
	me          confighub.OrganizationMember
	orgID       uuid.UUID
	heartbeat   time.Duration
	lastTime    time.Time
	spaces      map[uuid.UUID]*confighub.Space
	spaceOrder  []uuid.UUID
	units       map[uuid.UUID]*unitRec
	unitOrder   []uuid.UUID
	tags        map[uuid.UUID]*confighub.Tag
	tagOrder    []uuid.UUID
	targets     map[uuid.UUID]*confighub.Target
	targetOrder []uuid.UUID
	workers     map[uuid.UUID]*workerRec
	workerOrder []uuid.UUID
	ops         map[uuid.UUID]*opRec
	faults      []*faultState
	requests    []Request
}

type unitRec struct {
	u      confighub.Unit
	revs   []*confighub.Revision
	events []*confighub.UnitEvent
	status confighub.UnitStatus
	lastOp uuid.UUID             // the newest operation issued; its results set status
	links  []*confighub.Link     // links from this unit (it is their FromUnit)
	muts   []*confighub.Mutation // one per revision, in order
}

// New builds a stand-in without a listener, for use as an http.Handler.
// Close ends its worker streams.
func New(opts ...Option) *Server {
	s := &Server{
		log:       slog.New(slog.DiscardHandler),
		orgID:     uuid.New(),
		heartbeat: 30 * time.Second,
		spaces:    map[uuid.UUID]*confighub.Space{},
		units:     map[uuid.UUID]*unitRec{},
		tags:      map[uuid.UUID]*confighub.Tag{},
		targets:   map[uuid.UUID]*confighub.Target{},
		workers:   map[uuid.UUID]*workerRec{},
		ops:       map[uuid.UUID]*opRec{},
	}
	s.idle = sync.NewCond(&s.mu)
	for _, o := range opts {
		o(s)
	}
	if s.Token == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		s.Token = "chtest-" + hex.EncodeToString(b)
	}
	if s.me.Username == "" {
		s.me = confighub.OrganizationMember{Username: "traderx-tester", DisplayName: "TraderX Tester",
			Slug: "traderx-tester", ExternalID: "confighubtest|traderx-tester"}
	}
	if s.me.UserID == uuid.Nil {
		s.me.UserID = uuid.New()
	}
	s.me.OrganizationID = s.orgID
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s
}

// NewServer starts a stand-in on a loopback port; Close it when done.
func NewServer(opts ...Option) *Server {
	s := New(opts...)
	s.httpSrv = httptest.NewServer(s)
	s.URL = s.httpSrv.URL
	return s
}

// Close ends every worker stream (the workers see their connection drop)
// and, for NewServer, stops the listener.
func (s *Server) Close() {
	s.once.Do(func() {
		s.cancel()
		if s.httpSrv != nil {
			s.httpSrv.CloseClientConnections()
			s.httpSrv.Close()
		}
	})
}

// Credentials returns credentials pointing a client at this server.
func (s *Server) Credentials() confighub.Credentials {
	return confighub.Credentials{Server: s.URL, Token: s.Token, Source: "confighubtest"}
}

// InjectFault queues a fault; faults are consumed in the order injected.
// An invalid PathPattern panics (it is a test bug).
func (s *Server) InjectFault(f Fault) {
	fs := &faultState{Fault: f, left: f.Times}
	if fs.left <= 0 {
		fs.left = 1
	}
	if f.PathPattern != "" {
		fs.re = regexp.MustCompile(f.PathPattern)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fs)
}

// ClearFaults drops the faults not yet consumed.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// PendingFaults counts fault hits not yet consumed.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.left
	}
	return n
}

// Requests returns a copy of the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// CountRequests counts requests with the method whose path matches the pattern.
func (s *Server) CountRequests(method, pathPattern string) int {
	re := regexp.MustCompile(pathPattern)
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && re.MatchString(r.Path) {
			n++
		}
	}
	return n
}

// WaitIdle blocks until no operation delivered to a connected worker is
// still unfinished, or ctx ends. Operations of a worker that disconnected
// mid-way never finish (as with the real server) and are not waited for.
func (s *Server) WaitIdle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.idle.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.idle.Wait()
	}
	return nil
}

func (s *Server) busy() bool {
	for _, or := range s.ops {
		if wr := s.workers[or.op.BridgeWorkerID]; !or.terminal && wr != nil && wr.conn != nil && s.units[or.op.UnitID] != nil {
			return true
		}
	}
	return false
}

// now returns a strictly increasing UTC time, so events sort deterministically.
func (s *Server) now() time.Time {
	t := time.Now().UTC().Truncate(time.Microsecond)
	if !t.After(s.lastTime) {
		t = s.lastTime.Add(time.Microsecond)
	}
	s.lastTime = t
	return t
}

// ---- HTTP plumbing ----

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.NewResponseController reach Flush (worker streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.left <= 0 {
			continue
		}
		if f.re == nil && isWorkerRoute(path) {
			continue // worker traffic is faulted only by a pattern that names it
		}
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.re != nil && !f.re.MatchString(path) {
			continue
		}
		f.left--
		cp := f.Fault
		return &cp
	}
	return nil
}

func (s *Server) record(r *http.Request, status int, reqID string, faulted bool) {
	if isWorkerRoute(r.URL.Path) {
		return // the log is of client traffic; workers talk all the time
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Status: status, RequestID: reqID, Faulted: faulted})
}

func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := fmt.Sprintf("chtest-%06d", s.reqSeq.Add(1))
	w.Header().Set("X-Request-Id", reqID)
	sw := &statusWriter{ResponseWriter: w}
	f := s.takeFault(r.Method, r.URL.Path)
	faulted := f != nil
	recorded := false
	defer func() {
		if !recorded {
			s.record(r, sw.status, reqID, faulted)
		}
	}()
	// A reset reaches the client at once: record first, so a test that counts
	// requests right after its call sees this one.
	reset := func() {
		s.record(r, 0, reqID, faulted)
		recorded = true
		resetConn(w)
	}
	s.log.Debug("confighubtest: request", "method", r.Method, "path", r.URL.Path, "request_id", reqID, "fault", faulted)

	if f != nil && f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if f != nil && !f.AfterHandling {
		if f.Reset {
			reset()
			return
		}
		if f.Status != 0 {
			writeFault(sw, f)
			return
		}
	}
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(sw, http.StatusNotFound, "NotFound", "no such path: "+r.URL.Path)
		return
	}
	if isWorkerRoute(r.URL.Path) {
		if !s.workerAuthorized(r) {
			writeError(sw, http.StatusUnauthorized, "Unauthorized", "missing or invalid worker secret (Authorization: Bearer <worker secret>)")
			return
		}
	} else if r.URL.Path != "/api/info" && !s.authorized(r) {
		writeError(sw, http.StatusUnauthorized, "Unauthorized", "missing or invalid bearer token")
		return
	}
	if f != nil && f.AfterHandling && (f.Reset || f.Status != 0) {
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, r)
		if f.Reset {
			reset()
			return
		}
		writeFault(sw, f)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

func writeFault(w http.ResponseWriter, f *Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	writeError(w, f.Status, strings.ReplaceAll(http.StatusText(f.Status), " ", ""), "injected fault: "+http.StatusText(f.Status))
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return ok && tok != "" && tok == s.Token
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(confighub.StandardErrorResponse{Code: code, Message: msg})
	_, _ = w.Write(b)
}

// apiErr is a handler error with its HTTP status.
type apiErr struct {
	status int
	code   string
	msg    string
}

func (e *apiErr) Error() string { return e.msg }

func errf(status int, format string, args ...any) *apiErr {
	return &apiErr{status: status, code: strings.ReplaceAll(http.StatusText(status), " ", ""), msg: fmt.Sprintf(format, args...)}
}

func writeAPIErr(w http.ResponseWriter, err error) {
	if ae, ok := err.(*apiErr); ok {
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
}

// handle wraps a handler that runs under the state lock.
func (s *Server) handle(fn func(r *http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status, body, err := fn(r)
		raw, isRaw := body.(rawBody)
		var enc []byte
		var encErr error
		if err == nil && !isRaw {
			enc, encErr = json.Marshal(body)
		}
		s.mu.Unlock()
		switch {
		case err != nil:
			writeAPIErr(w, err)
		case isRaw:
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(status)
			_, _ = w.Write(raw)
		case encErr != nil:
			writeError(w, http.StatusInternalServerError, "InternalServerError", encErr.Error())
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(enc)
		}
	}
}

// rawBody is a non-JSON answer.
type rawBody []byte

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/me", s.handle(s.getMe))
	m.HandleFunc("GET /api/info", s.handle(s.getInfo))

	m.HandleFunc("GET /api/space", s.handle(s.listSpaces))
	m.HandleFunc("POST /api/space", s.handle(s.createSpace))
	m.HandleFunc("GET /api/space/{s}", s.handle(s.getSpace))
	m.HandleFunc("PATCH /api/space/{s}", s.handle(s.patchSpace))

	m.HandleFunc("GET /api/space/{s}/unit", s.handle(s.listSpaceUnits))
	m.HandleFunc("POST /api/space/{s}/unit", s.handle(s.createUnit))
	m.HandleFunc("GET /api/space/{s}/unit/{u}", s.handle(s.getUnit))
	m.HandleFunc("PUT /api/space/{s}/unit/{u}", s.handle(s.putUnit))
	m.HandleFunc("PATCH /api/space/{s}/unit/{u}", s.handle(s.patchUnit))
	m.HandleFunc("DELETE /api/space/{s}/unit/{u}", s.handle(s.deleteUnit))
	m.HandleFunc("POST /api/space/{s}/unit/{u}/apply", s.handle(s.unitAction(confighub.ActionApply)))
	m.HandleFunc("POST /api/space/{s}/unit/{u}/refresh", s.handle(s.unitAction(confighub.ActionRefresh)))
	m.HandleFunc("POST /api/space/{s}/unit/{u}/destroy", s.handle(s.unitAction(confighub.ActionDestroy)))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/revision", s.handle(s.listRevisions))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/revision/{r}", s.handle(s.getRevision))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/revision/{r}/data", s.handle(s.getRevisionData))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/unit_event", s.handle(s.listEvents))
	m.HandleFunc("GET /api/space/{s}/unit/{u}/unit_event/{e}", s.handle(s.getEvent))

	m.HandleFunc("GET /api/unit", s.handle(s.listAllUnits))
	m.HandleFunc("PATCH /api/unit", s.handle(s.bulkPatchUnits))
	m.HandleFunc("POST /api/unit/apply", s.handle(s.bulkAction(confighub.ActionApply)))
	m.HandleFunc("POST /api/unit/refresh", s.handle(s.bulkAction(confighub.ActionRefresh)))
	m.HandleFunc("POST /api/unit/tag", s.handle(s.bulkTag))

	m.HandleFunc("GET /api/space/{s}/tag", s.handle(s.listTags))
	m.HandleFunc("POST /api/space/{s}/tag", s.handle(s.createTag))
	m.HandleFunc("GET /api/space/{s}/target", s.handle(s.listTargets))
	m.HandleFunc("POST /api/space/{s}/target", s.handle(s.createTarget))

	m.HandleFunc("GET /api/space/{s}/bridge_worker", s.handle(s.listSpaceWorkers))
	m.HandleFunc("POST /api/space/{s}/bridge_worker", s.handle(s.createWorker))
	m.HandleFunc("GET /api/space/{s}/bridge_worker/{w}", s.handle(s.getWorker))
	m.HandleFunc("PATCH /api/space/{s}/bridge_worker/{w}", s.handle(s.patchWorker))
	m.HandleFunc("DELETE /api/space/{s}/bridge_worker/{w}", s.handle(s.deleteWorker))
	m.HandleFunc("GET /api/space/{s}/bridge_worker/{w}/status", s.handle(s.listWorkerStatuses))
	m.HandleFunc("GET /api/bridge_worker", s.handle(s.listAllWorkers))
	m.HandleFunc("GET /api/bridge_worker/{w}/me", s.handle(s.workerMe))
	m.HandleFunc("POST /api/bridge_worker/{w}/stream", s.workerStream)
	m.HandleFunc("POST /api/bridge_worker/{w}/action_result", s.handle(s.workerResult))
	s.wireRoutes(m)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	s.mux = m
}
