package rollout

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// ReleaseInfo is a recorded release as history shows it.
type ReleaseInfo struct {
	Number      int       `json:"number"`
	Tag         string    `json:"tag"`
	Time        time.Time `json:"time"`
	User        string    `json:"user"`
	Description string    `json:"description"`
	// Units maps every unit of the release to its tagged revision.
	Units map[string]int64 `json:"units"`
	// Changed lists the units whose revision differs from the release before.
	Changed []string `json:"changed"`
	// Stamp is the run that recorded the release, its approval and how it was confirmed.
	Stamp Stamp `json:"stamp,omitzero"`

	tagID     uuid.UUID
	revisions map[string]*confighub.Revision
}

// UnitRevision is one revision of one unit, for a service's history.
type UnitRevision struct {
	Unit        string    `json:"unit"`
	Revision    int64     `json:"revision"`
	Time        time.Time `json:"time"`
	Description string    `json:"description"`
	Releases    []int     `json:"releases,omitempty"`
	Head        bool      `json:"head,omitempty"`
	Live        bool      `json:"live,omitempty"`
}

// spaceHistory is what history reads once: the releases (tags) of a space
// and every unit's revisions.
type spaceHistory struct {
	space     *confighub.Space
	units     map[string]*confighub.ExtendedUnit
	revisions map[string][]confighub.Revision
	releases  []ReleaseInfo
	// users names the users who made the revisions, by UserID.
	users map[uuid.UUID]string
}

// readHistory lists the release tags and each unit's revisions in the
// environment's space sp; a release's unit revisions are the revisions
// carrying its tag. One revision list per unit, whatever the number of
// releases.
func (r *Rollout) readHistory(ctx context.Context, sp *confighub.Space, env traderx.Environment, services []string) (*spaceHistory, error) {
	h := &spaceHistory{space: sp, units: map[string]*confighub.ExtendedUnit{}, revisions: map[string][]confighub.Revision{},
		users: map[uuid.UUID]string{}}
	units, err := r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", sp.Slug, err)
	}
	wanted := unitsOfServices(env, services)
	for i := range units {
		u := units[i].Unit
		if u == nil || (wanted != nil && !wanted[u.Slug]) {
			continue
		}
		h.units[u.Slug] = &units[i]
		revs, err := r.Hub.ListRevisions(ctx, sp.SpaceID, u.UnitID, "", "UserID")
		if err != nil {
			return nil, fmt.Errorf("list revisions of %s/%s: %w", sp.Slug, u.Slug, err)
		}
		for _, er := range revs {
			if er.Revision != nil {
				h.revisions[u.Slug] = append(h.revisions[u.Slug], *er.Revision)
			}
			if er.User != nil {
				h.users[er.User.UserID] = cmp.Or(er.User.Username, er.User.DisplayName)
			}
		}
		sort.Slice(h.revisions[u.Slug], func(i, j int) bool {
			return h.revisions[u.Slug][i].RevisionNum < h.revisions[u.Slug][j].RevisionNum
		})
	}
	tags, err := r.Hub.ListTags(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list release tags of %s: %w", sp.Slug, err)
	}
	for _, et := range tags {
		t := et.Tag
		if t == nil || !strings.HasPrefix(t.Slug, ReleaseTagPrefix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(t.Slug, ReleaseTagPrefix))
		if err != nil {
			continue
		}
		rel := ReleaseInfo{Number: n, Tag: t.Slug, User: t.Annotations[ReleaseAnnotationUser], Description: t.Annotations[ReleaseAnnotationDescription],
			Units: map[string]int64{}, tagID: t.TagID, revisions: map[string]*confighub.Revision{}}
		rel.Time, _ = time.Parse(time.RFC3339, t.Annotations[ReleaseAnnotationTime])
		rel.Stamp = Stamp{RunID: t.Annotations[ReleaseAnnotationRun], ApprovedBy: t.Annotations[ReleaseAnnotationApprovedBy],
			Ticket: t.Annotations[ReleaseAnnotationTicket], Confirmation: t.Annotations[ReleaseAnnotationConfirmation]}
		key := t.TagID.String()
		for unit, revs := range h.revisions {
			for i := range revs {
				if _, ok := revs[i].Tags[key]; ok {
					rel.Units[unit] = revs[i].RevisionNum
					rel.revisions[unit] = &revs[i]
				}
			}
		}
		h.releases = append(h.releases, rel)
	}
	sort.Slice(h.releases, func(i, j int) bool { return h.releases[i].Number < h.releases[j].Number })
	for i := range h.releases {
		var prev map[string]int64
		if i > 0 {
			prev = h.releases[i-1].Units
		}
		for unit, rev := range h.releases[i].Units {
			if prev == nil || prev[unit] != rev {
				h.releases[i].Changed = append(h.releases[i].Changed, unit)
			}
		}
		sort.Strings(h.releases[i].Changed)
	}
	return h, nil
}

// unitsOfServices returns the unit names of the services, nil for all units.
func unitsOfServices(env traderx.Environment, services []string) map[string]bool {
	if len(services) == 0 {
		return nil
	}
	units, err := manifests.Render(env)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, u := range units {
		for _, s := range services {
			if u.Service == s {
				out[u.Name] = true
			}
		}
	}
	return out
}

// History returns the releases of an environment, newest first, at most max
// (0: all).
func (r *Rollout) History(ctx context.Context, env traderx.Environment, max int) ([]ReleaseInfo, error) {
	sp, err := r.Space(ctx, env)
	if err != nil {
		return nil, err
	}
	return r.releases(ctx, sp, env, max)
}

// releases is History in the environment's space sp.
func (r *Rollout) releases(ctx context.Context, sp *confighub.Space, env traderx.Environment, max int) ([]ReleaseInfo, error) {
	h, err := r.readHistory(ctx, sp, env, nil)
	if err != nil {
		return nil, err
	}
	out := h.releases
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

// ServiceHistory returns the revisions of a service's units, newest first,
// with the releases each revision belongs to.
func (r *Rollout) ServiceHistory(ctx context.Context, env traderx.Environment, service string, max int) ([]UnitRevision, error) {
	if _, err := traderx.LookupService(service); err != nil {
		return nil, &InputError{Err: err}
	}
	sp, err := r.Space(ctx, env)
	if err != nil {
		return nil, err
	}
	h, err := r.readHistory(ctx, sp, env, []string{service})
	if err != nil {
		return nil, err
	}
	releaseOf := map[string]int{}
	for _, rel := range h.releases {
		releaseOf[rel.tagID.String()] = rel.Number
	}
	var out []UnitRevision
	for unit, revs := range h.revisions {
		u := h.units[unit].Unit
		for _, rv := range revs {
			ur := UnitRevision{Unit: unit, Revision: rv.RevisionNum, Time: rv.CreatedAt, Description: rv.Description,
				Head: rv.RevisionNum == u.HeadRevisionNum, Live: rv.RevisionNum == u.LiveRevisionNum}
			for tagID := range rv.Tags {
				if n, ok := releaseOf[tagID]; ok {
					ur.Releases = append(ur.Releases, n)
				}
			}
			sort.Ints(ur.Releases)
			out = append(out, ur)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		if out[i].Unit != out[j].Unit {
			return out[i].Unit < out[j].Unit
		}
		return out[i].Revision > out[j].Revision
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}
