package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/google/uuid"
)

// planned is a unit of the environment space with its place in the order.
type planned struct {
	eu      *confighub.ExtendedUnit
	name    string
	service string
	tier    int
	order   int
	// repair is why a unit live at head is applied again; "" = skip it.
	repair string
}

// live reports a unit live at its head revision, with nothing to repair.
func (p planned) live() bool {
	u := p.eu.Unit
	return u.LiveRevisionNum == u.HeadRevisionNum && u.HeadRevisionNum > 0 && p.repair == ""
}

// plan lists the environment's units in apply order.
func (r *Rollout) plan(ctx context.Context, sp *confighub.Space, env traderx.Environment, services []string) ([]planned, error) {
	rendered, err := manifests.Render(env)
	if err != nil {
		return nil, err
	}
	list, err := r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", sp.Slug, err)
	}
	bySlug := map[string]*confighub.ExtendedUnit{}
	for i := range list {
		if list[i].Unit != nil {
			bySlug[list[i].Unit.Slug] = &list[i]
		}
	}
	var out, missing []string
	var plan []planned
	for i, u := range rendered {
		if len(services) > 0 && !slices.Contains(services, u.Service) {
			continue
		}
		eu := bySlug[u.Name]
		if eu == nil {
			missing = append(missing, u.Name)
			continue
		}
		delete(bySlug, u.Name)
		plan = append(plan, planned{eu: eu, name: u.Name, service: u.Service, tier: u.Tier, order: i})
	}
	if len(missing) > 0 && len(plan) == 0 {
		return nil, inputf("environment %s is not installed in ConfigHub (space %s has none of its units): run `%s`",
			env.Name, sp.Slug, r.next(hint.Install(env.Name)))
	}
	if len(missing) > 0 {
		return nil, inputf("environment %s is missing %d units in space %s (%s): run `%s`",
			env.Name, len(missing), sp.Slug, check.Examples(missing), r.next(hint.Install(env.Name)))
	}
	for s := range bySlug {
		out = append(out, s)
	}
	if len(out) > 0 && len(services) == 0 {
		sort.Strings(out)
		r.log().Warn(fmt.Sprintf("%s: %d units not in the TraderX model are left alone: %s", env.Name, len(out), check.Examples(out)))
	}
	return plan, nil
}

// markDrift has the worker compare the units live at head with the cluster
// (a dry-run refresh) and marks the drifted ones, and those whose refresh
// failed (an object deleted, say), to be applied again. Without an answer
// it warns and applies as before: drift must not block a rollout.
func (r *Rollout) markDrift(ctx context.Context, sp *confighub.Space, env traderx.Environment, plan []planned, o ApplyOptions) {
	live := false
	for _, p := range plan {
		live = live || p.live()
	}
	if !live {
		return
	}
	drift, err := r.Refresh(ctx, sp, o.Timeout)
	if err != nil {
		r.log().Warn(fmt.Sprintf("%s: drift not checked (units live at head are skipped as before): %v", env.Name, err))
		return
	}
	for i := range plan {
		p := &plan[i]
		if !p.live() {
			continue
		}
		switch d := drift[p.name]; {
		case d.Drifted:
			p.repair = "live objects changed outside ConfigHub"
		case d.Failed:
			p.repair = "the worker could not compare the live objects (" + d.Why + ")"
		}
	}
}

// preflight checks every unit that will be applied before anything is: a
// target, no apply gates, data that parses.
func (r *Rollout) preflight(ctx context.Context, sp *confighub.Space, plan []planned) error {
	var problems []string
	for _, p := range plan {
		u := p.eu.Unit
		if u.LiveRevisionNum == u.HeadRevisionNum && u.HeadRevisionNum > 0 {
			continue
		}
		if u.TargetID == uuid.Nil {
			problems = append(problems, fmt.Sprintf("unit %s has no target (run `%s`)", p.name, r.next(hint.Install())))

			continue
		}
		if len(u.ApplyGates) > 0 {
			var gates []string
			for g := range u.ApplyGates {
				gates = append(gates, g)
			}
			sort.Strings(gates)
			problems = append(problems, fmt.Sprintf("unit %s is gated by %s", p.name, strings.Join(gates, ", ")))
			continue
		}
		data := u.Data
		if len(data) == 0 {
			eu, err := r.Hub.GetUnit(ctx, sp.SpaceID, u.UnitID)
			if err != nil {
				return err
			}
			data = eu.Unit.Data
		}
		objs, err := manifests.Decode(data)
		if err == nil && len(objs) == 0 {
			err = errors.New("no objects")
		}
		if err == nil {
			for _, o := range objs {
				if o.GetName() == "" {
					err = fmt.Errorf("%s without metadata.name", o.GetKind())
					break
				}
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("unit %s revision %d: malformed data: %v", p.name, u.HeadRevisionNum, err))
		}
	}
	if len(problems) > 0 {
		return inputf("%s: nothing was applied: %s", sp.Slug, check.ExamplesJoined(problems, "; "))

	}
	return nil
}

type tierPlan struct {
	number   int
	units    []planned
	services []string
	// gated are the services the tier's gate judges: those with a unit to
	// apply in it, and those depending on one with a unit to apply anywhere
	// in the run. changed says the tier has units to apply: its gated
	// services must then hold healthy for ApplyOptions.Settle.
	gated   []string
	changed bool
}

// groupTiers groups the plan by tier and marks what each tier's gate judges.
func groupTiers(plan []planned) []tierPlan {
	by := map[int]*tierPlan{}
	for _, p := range plan {
		t := by[p.tier]
		if t == nil {
			t = &tierPlan{number: p.tier}
			by[p.tier] = t
		}
		t.units = append(t.units, p)
		if p.service != "" && !slices.Contains(t.services, p.service) {
			t.services = append(t.services, p.service)
		}
	}
	// A change reaches the services that call a changed one: their
	// dependency checks judge it from their side.
	gated := map[string]bool{}
	for _, p := range plan {
		if !p.live() && p.service != "" {
			gated[p.service] = true
			for _, d := range traderx.Dependents(p.service) {
				gated[d] = true
			}
		}
	}
	var out []tierPlan
	for _, t := range by {
		t.changed = slices.ContainsFunc(t.units, func(p planned) bool { return !p.live() && p.service != "" })
		for _, s := range t.services {
			if gated[s] {
				t.gated = append(t.gated, s)
			}
		}
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number < out[j].number })
	return out
}

func unitNames(ps []planned) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name)
	}
	return out
}
