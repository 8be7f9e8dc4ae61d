package confighubtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gosimple/slug"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/finos/traderx-plugins/pkg/confighub"
)

// Worker is a ConfigHub bridge worker for Kubernetes, protocol-faithful to
// the SDK's (bridge-worker/lib/client*.go, newer core/worker/lib): it is
// registered in a space over the REST API with a user token, connects with
// its own secret, advertises its targets, takes operations off its event
// stream and posts every status back as an ActionResult. A Backend does the
// Kubernetes half.
//
// Per unit, operations run one at a time in arrival order (the SDK's unit
// queue, client_unit_queue.go). An apply that arrives while an apply of the
// same unit is still running — typically still waiting for readiness —
// overrides it, as the newest SDK does (runningOperations, override
// detection): the running one is cancelled and reported Aborted with
// "Operation overridden by newer operation <id>", and reports nothing more.
type Worker struct {
	// ID, Slug and SpaceID identify the worker in ConfigHub.
	ID      uuid.UUID
	Slug    string
	SpaceID uuid.UUID

	server  string
	secret  string
	hub     *confighub.Client
	b       Backend
	cfg     workerConfig
	hc      *http.Client
	targets []string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the stream reader and the unit lanes
	once   sync.Once

	mu    sync.Mutex
	lanes map[uuid.UUID]*unitLane
	err   error // why the stream ended, unless Stop ended it
	fault map[string]*unitFault
}

type workerConfig struct {
	retryInitial, retryCap time.Duration
	inClusterName          string
	opDelay                time.Duration
	log                    *slog.Logger
}

// WorkerOption configures StartWorker.
type WorkerOption func(*workerConfig)

// WithRetryBackoff sets how long an apply whose resources are not ready
// after the target's WaitTimeout waits before waiting again: initial, then
// ×1.5 each time, at most max. The SDK uses 30s and 5m (without jitter here).
func WithRetryBackoff(initial, max time.Duration) WorkerOption {
	return func(c *workerConfig) { c.retryInitial, c.retryCap = initial, max }
}

// WithInClusterTargetName is IN_CLUSTER_TARGET_NAME: the name of the one
// target a worker without kube contexts (an in-cluster worker) advertises;
// default the worker's slug.
func WithInClusterTargetName(name string) WorkerOption {
	return func(c *workerConfig) { c.inClusterName = name }
}

// WithOperationDelay makes the worker pause after reporting an operation
// Progressing and before touching the backend, so tests can observe (or
// interrupt) operations in flight.
func WithOperationDelay(d time.Duration) WorkerOption { return func(c *workerConfig) { c.opDelay = d } }

// WithWorkerLogger sets the worker's logger (default: discard).
func WithWorkerLogger(l *slog.Logger) WorkerOption { return func(c *workerConfig) { c.log = l } }

// KubeContextTarget is the name a Kubernetes worker gives the target of one
// kube context: "<worker>-<context as a slug>" (bridge-worker/impl/kubernetes.go).
func KubeContextTarget(workerSlug, kubeContext string) string {
	return workerSlug + "-" + slug.Make(kubeContext)
}

// StartWorker does what a user does with `cub space create` and `cub worker
// create --space <space> <worker>` (each when missing), with the user's
// token, then starts the worker as `cub worker run` would: it
// connects with the worker's secret and advertises one target per kube
// context, "<worker>-<context>" with {"KubeContext": ctx, "WaitTimeout":
// "2m0s"}, or with no contexts the in-cluster target (WithInClusterTargetName,
// else the worker slug) with {"WaitTimeout": "2m0s"}. It returns once the
// server has accepted the connection, so the targets exist. The worker runs
// until Stop or until ctx ends.
func StartWorker(ctx context.Context, serverURL, token string, spaceSlug, workerSlug string, kubeContexts []string,
	b Backend, opts ...WorkerOption) (*Worker, error) {
	cfg := workerConfig{retryInitial: 30 * time.Second, retryCap: 5 * time.Minute, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	if b == nil {
		return nil, errors.New("confighubtest: StartWorker needs a Backend (NoopBackend without a cluster)")
	}
	hub, err := confighub.New(confighub.Credentials{Server: serverURL, Token: token, Source: "confighubtest.StartWorker"})
	if err != nil {
		return nil, err
	}
	sp, err := hub.GetSpaceBySlug(ctx, spaceSlug)
	if confighub.IsNotFound(err) {
		sp, err = hub.CreateSpace(ctx, confighub.Space{Slug: spaceSlug})
	}
	if err != nil {
		return nil, fmt.Errorf("worker %s: space %s: %w", workerSlug, spaceSlug, err)
	}
	bw, err := hub.CreateBridgeWorker(ctx, sp.SpaceID, confighub.BridgeWorker{Slug: workerSlug})
	if confighub.IsConflict(err) {
		bw, err = existingWorker(ctx, hub, sp.SpaceID, workerSlug) // a restart: `cub worker run` of a created worker
	}
	if err != nil {
		return nil, fmt.Errorf("worker %s: create in space %s: %w", workerSlug, spaceSlug, err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	w := &Worker{ID: bw.BridgeWorkerID, SpaceID: sp.SpaceID, server: strings.TrimSuffix(serverURL, "/"), secret: bw.Secret,
		hub: hub, b: b, cfg: cfg, hc: &http.Client{}, ctx: wctx, cancel: func() { stop(); cancel() },
		lanes: map[uuid.UUID]*unitLane{}, fault: map[string]*unitFault{}}
	if err := w.connect(ctx, kubeContexts); err != nil {
		w.cancel()
		return nil, fmt.Errorf("worker %s: %w", workerSlug, err)
	}
	return w, nil
}

// StartWorker starts a Worker against this server with its token: see the
// package-level StartWorker.
func (s *Server) StartWorker(ctx context.Context, spaceSlug, workerSlug string, kubeContexts []string, b Backend,
	opts ...WorkerOption) (*Worker, error) {
	return StartWorker(ctx, s.URL, s.Token, spaceSlug, workerSlug, kubeContexts, b, opts...)
}

func existingWorker(ctx context.Context, hub *confighub.Client, spaceID uuid.UUID, workerSlug string) (*confighub.BridgeWorker, error) {
	where, err := confighub.Where().Eq("Slug", workerSlug).Build()
	if err != nil {
		return nil, err
	}
	list, err := hub.ListBridgeWorkers(ctx, spaceID, where)
	if err != nil {
		return nil, err
	}
	if len(list) != 1 || list[0].BridgeWorker == nil {
		return nil, fmt.Errorf("worker %q exists yet cannot be listed", workerSlug)
	}
	return list[0].BridgeWorker, nil
}

// Targets returns the slugs of the targets the worker advertised.
func (w *Worker) Targets() []string { return append([]string(nil), w.targets...) }

// TargetID resolves one of the worker's targets to its ID, for SetTarget.
func (w *Worker) TargetID(ctx context.Context, targetSlug string) (uuid.UUID, error) {
	where, err := confighub.Where().Eq("Slug", targetSlug).Eq("BridgeWorkerID", w.ID).Build()
	if err != nil {
		return uuid.Nil, err
	}
	list, err := w.hub.ListTargets(ctx, w.SpaceID, where)
	if err != nil {
		return uuid.Nil, err
	}
	if len(list) != 1 || list[0].Target == nil {
		return uuid.Nil, fmt.Errorf("worker %s has no target %q (it advertised %v)", w.Slug, targetSlug, w.targets)
	}
	return list[0].Target.TargetID, nil
}

// Stop disconnects the worker: its stream closes (the server marks it
// Disconnected) and operations in flight report nothing more, so their
// units stay as the last status left them. Stop waits for the worker's
// goroutines.
func (w *Worker) Stop() {
	w.once.Do(w.cancel)
	w.wg.Wait()
}

// Err returns why the worker's stream ended when Stop did not end it (the
// server closed it or the connection failed), else nil.
func (w *Worker) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Worker) info(kubeContexts []string) confighub.WorkerInfo {
	var targets []confighub.AvailableTarget
	if len(kubeContexts) == 0 {
		name := w.cfg.inClusterName
		if name == "" {
			name = w.Slug
		}
		targets = append(targets, confighub.AvailableTarget{Name: name, Params: map[string]any{"WaitTimeout": "2m0s"}})
	}
	for _, kc := range kubeContexts {
		targets = append(targets, confighub.AvailableTarget{Name: KubeContextTarget(w.Slug, kc),
			Params: map[string]any{"KubeContext": kc, "WaitTimeout": "2m0s"}})
	}
	for _, t := range targets {
		w.targets = append(w.targets, t.Name)
	}
	return confighub.WorkerInfo{BridgeWorkerInfo: confighub.BridgeWorkerInfo{SupportedConfigTypes: []confighub.ConfigType{{
		ToolchainType: confighub.ToolchainKubernetesYAML, ProviderType: confighub.ProviderKubernetes, AvailableTargets: targets}}}}
}

func (w *Worker) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, w.server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+w.secret)
	req.Header.Set("User-Agent", "confighubtest-worker")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// connect learns the worker's slug from /me, as the SDK worker does, then
// opens the event stream and starts reading it.
func (w *Worker) connect(ctx context.Context, kubeContexts []string) error {
	req, err := w.request(ctx, http.MethodGet, workerMePath(w.ID), nil)
	if err != nil {
		return err
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET me: %w", err)
	}
	var me confighub.BridgeWorker
	err = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		return fmt.Errorf("GET me: HTTP %d (%v)", resp.StatusCode, err)
	}
	w.Slug = me.Slug
	body, err := json.Marshal(w.info(kubeContexts))
	if err != nil {
		return err
	}
	req, err = w.request(w.ctx, http.MethodPost, workerStreamPath(w.ID), body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	// The stream lives on w.ctx, which ends with ctx or Stop.
	resp, err = w.hc.Do(req)
	if err != nil {
		return fmt.Errorf("opening the event stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return fmt.Errorf("opening the event stream: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	w.cfg.log.Info("confighubtest: worker connected", "worker", w.Slug, "targets", w.targets)
	w.wg.Add(1)
	go w.read(resp.Body)
	return nil
}

// read consumes the SSE stream: "data: <EventMessage>" lines; anything else
// (comments, blank separators) is skipped as in the SDK client.
func (w *Worker) read(body io.ReadCloser) {
	defer w.wg.Done()
	defer body.Close()
	br := bufio.NewReader(body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if w.ctx.Err() == nil {
				w.mu.Lock()
				w.err = fmt.Errorf("event stream ended: %w", err)
				w.mu.Unlock()
				w.cfg.log.Warn("confighubtest: worker stream ended", "worker", w.Slug, "error", err)
			}
			w.cancel() // nothing more can reach the server's operations
			return
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev eventMessageIn
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			w.cfg.log.Error("confighubtest: malformed worker event", "error", err)
			continue
		}
		switch ev.Event {
		case eventWorker:
			var hb workerEventRequest
			if json.Unmarshal(ev.Data, &hb) == nil && hb.Action == confighub.ActionHeartbeat {
				now := time.Now().UTC()
				_ = w.post(actionResult{Action: confighub.ActionHeartbeat, Result: confighub.ResultNone,
					Status: confighub.StatusCompleted, StartedAt: now, TerminatedAt: &now})
			}
		case eventBridgeWorker:
			var be bridgeEventRequest
			if err := json.Unmarshal(ev.Data, &be); err != nil {
				w.cfg.log.Error("confighubtest: malformed bridge worker event", "error", err)
				continue
			}
			w.dispatch(be)
		}
	}
}

// post sends one ActionResult, retrying what may be transient.
func (w *Worker) post(r actionResult) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	bo := wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Steps: 6, Cap: time.Second}
	for {
		req, err := w.request(w.ctx, http.MethodPost, workerResultPath(w.ID), body)
		if err != nil {
			return err
		}
		resp, err := w.hc.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if status == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("action_result: HTTP %d", status)
		}
		// Like the SDK's status queue: 4xx other than 409/429 will not improve.
		permanent := status >= 400 && status < 500 && status != http.StatusConflict && status != http.StatusTooManyRequests
		if permanent || bo.Steps <= 1 || w.ctx.Err() != nil {
			w.cfg.log.Warn("confighubtest: worker could not report", "worker", w.Slug, "action", r.Action, "status", r.Status, "error", err)
			return err
		}
		select {
		case <-w.ctx.Done():
			return w.ctx.Err()
		case <-time.After(bo.Step()):
		}
	}
}

// ---- operations ----

// unitLane runs one unit's operations in order. mu serializes the unit's
// status posts with the override check, so an overridden operation can
// never report after its Aborted.
type unitLane struct {
	queue chan *operation
	mu    sync.Mutex
	apply *operation // the apply now running or queued last
}

type operation struct {
	ev      bridgeEventRequest
	ctx     context.Context
	cancel  context.CancelFunc
	started time.Time
	lane    *unitLane
}

func (w *Worker) dispatch(ev bridgeEventRequest) {
	w.mu.Lock()
	lane := w.lanes[ev.Payload.UnitID]
	if lane == nil {
		lane = &unitLane{queue: make(chan *operation, 100)} // the SDK's per-unit buffer
		w.lanes[ev.Payload.UnitID] = lane
		w.wg.Add(1)
		go w.run(lane)
	}
	w.mu.Unlock()
	ctx, cancel := context.WithCancel(w.ctx)
	op := &operation{ev: ev, ctx: ctx, cancel: cancel, started: time.Now().UTC(), lane: lane}
	if ev.Action == confighub.ActionApply {
		lane.mu.Lock()
		if prev := lane.apply; prev != nil && prev.ctx.Err() == nil {
			prev.cancel()
			now := time.Now().UTC()
			_ = w.post(actionResult{UnitID: prev.ev.Payload.UnitID, SpaceID: prev.ev.Payload.SpaceID,
				QueuedOperationID: prev.ev.Payload.QueuedOperationID, RevisionNum: prev.ev.Payload.RevisionNum,
				Action: prev.ev.Action, Result: confighub.ResultNone, Status: confighub.StatusAborted,
				Message:   fmt.Sprintf("Operation overridden by newer operation %s", ev.Payload.QueuedOperationID),
				StartedAt: prev.started, TerminatedAt: &now})
		}
		lane.apply = op
		lane.mu.Unlock()
	}
	select {
	case lane.queue <- op:
	default:
		cancel()
		w.cfg.log.Error("confighubtest: unit queue full, dropping operation", "unit", ev.Payload.UnitSlug, "action", ev.Action)
	}
}

func (w *Worker) run(lane *unitLane) {
	defer w.wg.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case op := <-lane.queue:
			if op.ctx.Err() == nil {
				w.execute(op)
			}
			op.cancel()
		}
	}
}

// report posts a status of op unless op was overridden or the worker stopped.
func (w *Worker) report(op *operation, status, result, msg string, fill func(*actionResult)) {
	op.lane.mu.Lock()
	defer op.lane.mu.Unlock()
	if op.ctx.Err() != nil {
		return
	}
	p := op.ev.Payload
	r := actionResult{UnitID: p.UnitID, SpaceID: p.SpaceID, QueuedOperationID: p.QueuedOperationID, RevisionNum: p.RevisionNum,
		Action: op.ev.Action, Result: result, Status: status, Message: msg, StartedAt: op.started}
	if isTerminalStatus(status) {
		now := time.Now().UTC()
		r.TerminatedAt = &now
	}
	if fill != nil {
		fill(&r)
	}
	_ = w.post(r)
}

// pause sleeps d unless op ends first; it reports whether op is still on.
func pause(op *operation, d time.Duration) bool {
	if d <= 0 {
		return op.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-op.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *Worker) execute(op *operation) {
	p := op.ev.Payload
	w.cfg.log.Info("confighubtest: worker operation", "worker", w.Slug, "action", op.ev.Action, "unit", p.UnitSlug,
		"revision", p.RevisionNum, "dry_run", p.DryRun)
	switch op.ev.Action {
	case confighub.ActionApply:
		w.apply(op)
	case confighub.ActionRefresh:
		w.refresh(op)
	case confighub.ActionDestroy:
		w.report(op, confighub.StatusFailed, confighub.ResultDestroyFailed,
			"destroy is not implemented by this worker's backend; delete the objects with kubectl", nil)
	default:
		// What the SDK client answers to an action it does not know.
		w.report(op, confighub.StatusNone, confighub.ResultNone, "unknown operation name: "+op.ev.Action, nil)
	}
}

// apply follows the Kubernetes worker: apply, then (unless a dry run) wait
// for readiness within WaitTimeout; past it report Progressing and wait
// again after an exponential backoff, for ever (KubernetesBridgeWorker
// WatchForApply in the newest SDK). Other wait errors end ApplyWaitFailed.
func (w *Worker) apply(op *operation) {
	p := op.ev.Payload
	fail := func(result string, err error) { w.report(op, confighub.StatusFailed, result, err.Error(), nil) }
	params, err := ParseTargetParams(string(p.TargetParams))
	if err != nil {
		fail(confighub.ResultApplyFailed, err)
		return
	}
	w.report(op, confighub.StatusProgressing, confighub.ResultNone, fmt.Sprintf("Applying revision %d...", p.RevisionNum), nil)
	if !pause(op, w.cfg.opDelay) {
		return
	}
	injected, disconnect := w.takeApplyFault(p.UnitSlug)
	if injected != nil {
		fail(confighub.ResultApplyFailed, injected)
		return
	}
	live, err := w.b.Apply(op.ctx, params, p.Data, p.DryRun)
	if op.ctx.Err() != nil {
		return
	}
	if err != nil {
		fail(confighub.ResultApplyFailed, err)
		return
	}
	if disconnect {
		w.cfg.log.Warn("confighubtest: injected fault: worker disconnects mid-apply", "worker", w.Slug, "unit", p.UnitSlug)
		go w.Stop() // Stop waits for this goroutine
		return
	}
	if p.DryRun {
		w.report(op, confighub.StatusCompleted, confighub.ResultApplyCompleted, "Dry run completed - resources validated but not applied", nil)
		return
	}
	bo := wait.Backoff{Duration: w.cfg.retryInitial, Factor: 1.5, Steps: math.MaxInt32, Cap: w.cfg.retryCap}
	for {
		w.report(op, confighub.StatusProgressing, confighub.ResultNone, "Waiting for the applied resources...", nil)
		var statuses map[string]confighub.ResourceStatus
		if w.neverReady(p.UnitSlug) {
			err = fmt.Errorf("%w (injected fault: never ready)", ErrWaitTimeout)
		} else {
			statuses, err = w.b.WaitReady(op.ctx, params, p.Data)
		}
		if op.ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			w.report(op, confighub.StatusCompleted, confighub.ResultApplyCompleted,
				fmt.Sprintf("Applied revision %d: %d resources ready", p.RevisionNum, len(statuses)), func(r *actionResult) {
					r.LiveState, r.ResourceStatuses = live, statuses
				})
			return
		case errors.Is(err, ErrWaitTimeout):
			d := bo.Step()
			w.report(op, confighub.StatusProgressing, confighub.ResultNone,
				fmt.Sprintf("Resources not ready, still waiting; retrying in %v: %v", d, err), func(r *actionResult) {
					r.ResourceStatuses = statuses
				})
			if !pause(op, d) {
				return
			}
		default:
			fail(confighub.ResultApplyWaitFailed, err)
			return
		}
	}
}

// refresh reads the live objects and reports drift with the live values
// merged into the unit's data; the server decides what to keep.
func (w *Worker) refresh(op *operation) {
	p := op.ev.Payload
	params, err := ParseTargetParams(string(p.TargetParams))
	if err != nil {
		w.report(op, confighub.StatusFailed, confighub.ResultRefreshFailed, err.Error(), nil)
		return
	}
	w.report(op, confighub.StatusProgressing, confighub.ResultNone, "Retrieving resources...", nil)
	if !pause(op, w.cfg.opDelay) {
		return
	}
	merged, live, drifted, err := w.b.Refresh(op.ctx, params, p.Data)
	if op.ctx.Err() != nil {
		return
	}
	switch {
	case err != nil:
		w.report(op, confighub.StatusFailed, confighub.ResultRefreshFailed, err.Error(), nil)
	case drifted:
		w.report(op, confighub.StatusCompleted, confighub.ResultRefreshAndDrifted, "Live state differs from the unit's data",
			func(r *actionResult) { r.Data, r.LiveState = merged, live })
	default:
		w.report(op, confighub.StatusCompleted, confighub.ResultRefreshAndNoDrift, "Live state matches - no drift detected",
			func(r *actionResult) { r.LiveState = live })
	}
}

// StartWorkers starts one connected worker named "worker" in each space (the
// space is created when missing), as an operator does before `cub traderx
// install`. The workers are keyed by space slug; stop them with Stop.
func (s *Server) StartWorkers(ctx context.Context, b Backend, kubeContexts []string, spaces ...string) (map[string]*Worker, error) {
	out := map[string]*Worker{}
	for _, sp := range spaces {
		w, err := s.StartWorker(ctx, sp, "worker", kubeContexts, b)
		if err != nil {
			for _, started := range out {
				started.Stop()
			}
			return nil, fmt.Errorf("worker of space %s: %w", sp, err)
		}
		out[sp] = w
	}
	return out, nil
}
