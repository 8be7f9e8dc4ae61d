package rollout

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// UnitState is where one unit of an environment stands in ConfigHub.
type UnitState struct {
	Unit        string `json:"unit"`
	Service     string `json:"service,omitempty"`
	Tier        int    `json:"tier"`
	Head        int64  `json:"headRevision"`
	Live        int64  `json:"liveRevision"`
	LastApplied int64  `json:"lastAppliedRevision"`
	// Unapplied is true when head is ahead of live.
	Unapplied bool `json:"unapplied"`
	// Drift is "drifted", "none" or "unknown" — only a refresh knows it;
	// DriftWhy says why, DriftCheckedAt when the last refresh judged it.
	Drift          string     `json:"drift"`
	DriftWhy       string     `json:"driftWhy,omitempty"`
	DriftCheckedAt *time.Time `json:"driftCheckedAt,omitempty"`
	Status         string     `json:"status,omitempty"`
	// LastEvent is the latest unit event, e.g. "Apply Completed".
	LastEvent string `json:"lastEvent,omitempty"`
	Upstream  string `json:"upstream,omitempty"`
	// UpstreamRevision is the upstream head last merged; UpstreamHead the
	// upstream's head now; Behind how many upstream revisions are not merged.
	UpstreamRevision int64 `json:"upstreamRevision,omitempty"`
	UpstreamHead     int64 `json:"upstreamHead,omitempty"`
	Behind           int64 `json:"behind"`
	InModel          bool  `json:"inModel"`
}

// EnvStatus is the status of every unit of an environment.
type EnvStatus struct {
	Environment string      `json:"environment"`
	Space       string      `json:"space"`
	Units       []UnitState `json:"units"`
}

// StatusOptions tune Status.
type StatusOptions struct {
	// Refresh has the worker compare every applied unit with the cluster
	// first (a dry-run refresh: nothing in ConfigHub changes), so drift is
	// current rather than as of the last refresh.
	Refresh bool
	Timeout time.Duration
}

// Drift values of UnitState.
const (
	DriftDrifted = "drifted"
	DriftNone    = "none"
	DriftUnknown = "unknown"
)

// Status reads the environment's units in its space sp: head, live and
// last applied revisions, drift, and how far each is behind its upstream.
func (r *Rollout) Status(ctx context.Context, sp *confighub.Space, env traderx.Environment, o StatusOptions) (*EnvStatus, error) {
	slug := sp.Slug
	if o.Refresh {
		if _, err := r.Refresh(ctx, sp, o.Timeout); err != nil {
			return nil, err
		}
	}
	list, err := r.Hub.ListUnits(ctx, sp.SpaceID, "", slices.Concat(confighub.DefaultUnitInclude, []string{"UpstreamSpaceID"})...)
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", slug, err)
	}
	state, err := confighub.ReadSpaceUnits(ctx, r.Hub, sp)
	if err != nil {
		return nil, err
	}
	rendered, err := manifests.Render(env)
	if err != nil {
		return nil, err
	}
	order := map[string]int{}
	model := map[string]manifests.Unit{}
	for i, u := range rendered {
		order[u.Name] = i
		model[u.Name] = u
	}
	st := &EnvStatus{Environment: env.Name, Space: slug}
	var extra []UnitState
	for _, eu := range list {
		u := eu.Unit
		if u == nil {
			continue
		}
		s := UnitState{Unit: u.Slug, Head: u.HeadRevisionNum, Live: u.LiveRevisionNum, LastApplied: u.LastAppliedRevisionNum,
			Unapplied: u.HeadRevisionNum > u.LiveRevisionNum, UpstreamRevision: u.UpstreamRevisionNum, Tier: -1}
		if m, ok := model[u.Slug]; ok {
			s.InModel, s.Tier, s.Service = true, m.Tier, m.Service
		}
		if eu.UnitStatus != nil {
			s.Status = eu.UnitStatus.Status
		}
		d := state.Drift[u.Slug]
		s.Drift, s.DriftWhy = DriftUnknown, d.Why
		switch {
		case d.Known && d.Drifted:
			s.Drift = DriftDrifted
		case d.Known:
			s.Drift = DriftNone
		}
		if !d.RefreshedAt.IsZero() {
			at := d.RefreshedAt.UTC()
			s.DriftCheckedAt = &at
		}
		if ev := eu.LatestUnitEvent; ev != nil {
			s.LastEvent = ev.Action + " " + ev.Status
			if ev.Result != "" && ev.Result != confighub.ResultNone {
				s.LastEvent += " (" + ev.Result + ")"
			}
		}
		if up := eu.UpstreamUnit; up != nil {
			s.Upstream = up.Slug
			if eu.UpstreamSpace != nil {
				s.Upstream = eu.UpstreamSpace.Slug + "/" + up.Slug
			}
			s.UpstreamHead = up.HeadRevisionNum
			if d := up.HeadRevisionNum - u.UpstreamRevisionNum; d > 0 {
				s.Behind = d
			}
		}
		if s.InModel {
			st.Units = append(st.Units, s)
		} else {
			extra = append(extra, s)
		}
	}
	sortByOrder(st.Units, order)
	st.Units = append(st.Units, extra...)
	return st, nil
}

func sortByOrder(us []UnitState, order map[string]int) {
	for i := 1; i < len(us); i++ {
		for j := i; j > 0 && order[us[j].Unit] < order[us[j-1].Unit]; j-- {
			us[j], us[j-1] = us[j-1], us[j]
		}
	}
}
