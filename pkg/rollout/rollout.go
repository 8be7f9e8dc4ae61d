// Package rollout orchestrates changes to TraderX environments through
// ConfigHub: Install (base and environment spaces, units, targets), Apply
// (tiers in dependency order, retries, health gates, releases) and Status.
// It is pure orchestration over small interfaces — the ConfigHub client, a
// health gate, a clock — and never imports cobra or touches a cluster.
package rollout

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/audit"
	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Hub is the part of the ConfigHub API a rollout uses; *confighub.Client
// implements it.
type Hub interface {
	Me(ctx context.Context) (*confighub.OrganizationMember, error)
	GetSpaceBySlug(ctx context.Context, slug string) (*confighub.Space, error)
	CreateSpace(ctx context.Context, s confighub.Space) (*confighub.Space, error)
	LabelSpace(ctx context.Context, spaceID uuid.UUID, labels map[string]string) (*confighub.Space, error)
	ListUnits(ctx context.Context, spaceID uuid.UUID, where string, include ...string) ([]confighub.ExtendedUnit, error)
	GetUnit(ctx context.Context, spaceID, unitID uuid.UUID) (*confighub.ExtendedUnit, error)
	CreateUnit(ctx context.Context, spaceID uuid.UUID, unit confighub.Unit, upstreamSpaceID, upstreamUnitID uuid.UUID) (*confighub.Unit, error)
	PatchUnit(ctx context.Context, spaceID, unitID uuid.UUID, patch any, params confighub.UnitUpdateParams) (*confighub.Unit, error)
	Apply(ctx context.Context, spaceID, unitID uuid.UUID) (*confighub.QueuedOperation, error)
	WaitForOperation(ctx context.Context, spaceID, unitID uuid.UUID, op *confighub.QueuedOperation) (*confighub.UnitEvent, error)
	ListUnitEvents(ctx context.Context, spaceID, unitID uuid.UUID, where string) ([]confighub.UnitEvent, error)
	ListAllUnitEvents(ctx context.Context, where string) ([]confighub.UnitEvent, error)
	RefreshUnits(ctx context.Context, where string, dryRun bool) ([]confighub.UnitActionResponse, error)
	ListRevisions(ctx context.Context, spaceID, unitID uuid.UUID, where string, include ...string) ([]confighub.ExtendedRevision, error)
	ListTags(ctx context.Context, spaceID uuid.UUID, where string) ([]confighub.ExtendedTag, error)
	CreateTag(ctx context.Context, spaceID uuid.UUID, t confighub.Tag) (*confighub.Tag, error)
	TagUnits(ctx context.Context, where string, req confighub.UnitTagRequest) ([]confighub.UnitTagResponse, error)
	ListTargets(ctx context.Context, spaceID uuid.UUID, where string) ([]confighub.ExtendedTarget, error)
	ListBridgeWorkers(ctx context.Context, spaceID uuid.UUID, where string) ([]confighub.ExtendedBridgeWorker, error)
	ListBridgeWorkerStatuses(ctx context.Context, spaceID, workerID uuid.UUID) ([]confighub.BridgeWorkerStatus, error)
}

var _ Hub = (*confighub.Client)(nil)

// Gate judges the health of some services of an environment (read-only).
// An error means the cluster could not be read; an UNHEALTHY report means
// the services are not (yet) healthy.
type Gate interface {
	Check(ctx context.Context, env traderx.Environment, services []string) (*check.Report, error)
}

// StuckFinder is a Gate that can also tell, while an apply is in progress,
// the failures of pods created since then that waiting does not cure (crash
// loops, failed pods, image pulls). ConfigHub's worker completes an apply
// only once its objects are ready, so without this an apply of a
// crash-looping Deployment would wait out the whole timeout.
type StuckFinder interface {
	Stuck(ctx context.Context, env traderx.Environment, services []string, since time.Time) ([]check.Check, error)
}

// Watcher is a Gate that can follow the cluster: Watch watches the
// environment's namespace until ctx ends and returns a Gate that judges from
// what the watch has seen, and a channel that signals after changes (one
// pending signal stands for any number of them). Waiting for health then
// re-judges at every change instead of polling, so a condition that must
// hold for a while is observed without gaps.
type Watcher interface {
	Watch(ctx context.Context, env traderx.Environment) (Gate, <-chan struct{}, error)
}

// GateFunc adapts a function to Gate.
type GateFunc func(ctx context.Context, env traderx.Environment, services []string) (*check.Report, error)

// Check implements Gate.
func (f GateFunc) Check(ctx context.Context, env traderx.Environment, services []string) (*check.Report, error) {
	return f(ctx, env, services)
}

// Clock tells time and sleeps; tests replace it to run backoffs instantly.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep implements Clock; it returns early with ctx's error.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Rollout carries the collaborators of every operation.
type Rollout struct {
	Hub     Hub
	Gate    Gate // nil: Apply refuses unless DryRun
	Clock   Clock
	Log     *slog.Logger
	Audit   audit.Recorder
	Project string
	// User is recorded on releases; looked up with Hub.Me when empty.
	User string
	// Progress hears each step of an apply or install (nil: nobody).
	Progress Progress
	// Stamp is written into every change description and onto every
	// release this run leaves in ConfigHub.
	Stamp Stamp

	// ready remembers the spaces CheckReady passed in this run.
	ready map[uuid.UUID]bool
}

func (r *Rollout) clock() Clock {
	if r.Clock == nil {
		return RealClock{}
	}
	return r.Clock
}

func (r *Rollout) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

func (r *Rollout) audit() audit.Recorder {
	if r.Audit == nil {
		return audit.Discard
	}
	return r.Audit
}

// next is a command to suggest, in the project this rollout works in.
func (r *Rollout) next(c hint.Command) string { return c.InProject(r.project()).String() }

func (r *Rollout) project() string {

	if r.Project == "" {
		return traderx.DefaultProject
	}
	return r.Project
}

// user returns who runs the change, from /me once.
func (r *Rollout) user(ctx context.Context) (string, error) {
	if r.User != "" {
		return r.User, nil
	}
	m, err := r.Hub.Me(ctx)
	if err != nil {
		return "", err
	}
	r.User = m.Username
	if r.User == "" {
		r.User = m.Slug
	}
	return r.User, nil
}

// record writes one audit record.
func (r *Rollout) record(action, env string, units []string, revs map[string]int64, start time.Time, err error) {
	rec := audit.Record{Time: r.clock().Now(), User: r.User, Action: action, Environment: env, Units: units,
		Revisions: revs, Duration: r.clock().Now().Sub(start), Result: audit.ResultOK}
	if err != nil {
		rec.Result, rec.Error = audit.ResultFailed, err.Error()
	}
	r.audit().Record(rec)
}
