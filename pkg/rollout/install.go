package rollout

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Unit labels set on every ConfigHub unit TraderX creates.
const (
	LabelTier    = "tier"
	LabelService = "service"
	LabelColour  = "colour"
	LabelPartOf  = "part-of"
	LabelProject = "project"
	LabelRole    = "role"
	// LabelEnvironment is the environment label of environment spaces; cub
	// shows a space's Labels["Environment"] in its ENVIRONMENT column.
	LabelEnvironment = "Environment"
)

// BaseEnvironmentName names the environment-neutral rendering kept in the
// base space.
const BaseEnvironmentName = "base"

// BaseEnvironment is what the base space holds: the first environment of the
// promotion chain under the name "base". Its units are never applied; every
// environment's units descend from them.
func BaseEnvironment() traderx.Environment {
	for _, e := range traderx.Environments() {
		if e.Upstream == "" {
			e.Name = BaseEnvironmentName
			return e
		}
	}
	panic("traderx model has no root environment")
}

// UnitLabels are the ConfigHub labels of a rendered unit.
func UnitLabels(u manifests.Unit) map[string]string {
	l := map[string]string{LabelTier: strconv.Itoa(u.Tier), LabelPartOf: "traderx"}
	if u.Service != "" {
		l[LabelService] = u.Service
	}
	if u.Colour != "" {
		l[LabelColour] = u.Colour
	}
	return l
}

// InstallOptions select what Install creates.
type InstallOptions struct {
	// Envs to install, in promotion order; each one's upstream must be
	// installed already or be in Envs.
	Envs []traderx.Environment
	// Target is the Kubernetes target to use in every environment space; ""
	// means the only one there. Targets belong to bridge workers (they
	// advertise them when they connect); install binds units to them and
	// never creates one.
	Target string
	DryRun bool
}

// Change is one step Install took (or would take, in a dry run).
type Change struct {
	Space  string
	Kind   string // "space", "space-labels", "unit", "target", "data", "labels", "set-target"
	Name   string
	Detail string
}

func (c Change) String() string {
	name := c.Space
	if c.Name != "" {
		name += "/" + c.Name
	}
	verb := map[string]string{"space": "create space", "unit": "create unit", "target": "create target",
		"data": "update data of", "labels": "update labels of", "space-labels": "label space", "set-target": "set target of"}[c.Kind]
	s := verb + " " + name
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// InstallResult lists what Install did.
type InstallResult struct {
	Changes []Change
	// Units counts the units that exist (or would) in the spaces installed.
	Units  int
	Spaces []string
}

// installer holds one Install run.
type installer struct {
	r   *Rollout
	o   InstallOptions
	res *InstallResult
	// planned spaces that do not exist yet (dry run): slug -> unit slugs
	planned map[string]bool
	// targets chosen per environment name
	targets map[string]*TargetChoice
	// spaces read or created so far, by slug: each is read once per run.
	spaces map[string]*confighub.Space
}

// read returns the space by slug, from ConfigHub the first time.
func (in *installer) read(ctx context.Context, slug string) (*confighub.Space, error) {
	if sp := in.spaces[slug]; sp != nil {
		return sp, nil
	}
	sp, err := in.r.Hub.GetSpaceBySlug(ctx, slug)
	if err != nil {
		return nil, err
	}
	in.spaces[slug] = sp
	return sp, nil
}

// Install creates the base space and one space per environment with units,
// targets and upstream links (dev ← base, staging ← dev, prod ← staging).
// Existing spaces, units and targets are kept: base units follow the model
// (their data is updated when the model changed), environment units keep
// their own data once installed (promotion and edits own them), so a second
// run changes nothing. With DryRun nothing is written.
func (r *Rollout) Install(ctx context.Context, o InstallOptions) (*InstallResult, error) {
	in := &installer{r: r, o: o, res: &InstallResult{}, planned: map[string]bool{}, spaces: map[string]*confighub.Space{}}
	if !o.DryRun {
		if _, err := r.user(ctx); err != nil {
			return nil, err
		}
	}
	wanted := map[string]bool{}
	for _, e := range o.Envs {
		wanted[e.Name] = true
	}
	for _, e := range o.Envs {
		if e.Upstream == "" || wanted[e.Upstream] {
			continue
		}
		upSlug := traderx.Environment{Name: e.Upstream}.Space(r.project())
		if _, err := in.read(ctx, upSlug); confighub.IsNotFound(err) {
			return nil, inputf("environment %s is cloned from %s, which is not installed (space %s not found): install it first (--envs %s,%s)",
				e.Name, e.Upstream, upSlug, e.Upstream, e.Name)
		} else if err != nil {
			return nil, err
		}
	}

	// Every environment needs a connected worker's target before anything
	// is created: without one its units could never be applied.
	targets := map[string]*TargetChoice{}
	for _, e := range o.Envs {
		tc, err := in.target(ctx, e, o.Target)
		if err != nil {
			return nil, err
		}
		targets[e.Name] = tc
	}
	in.targets = targets

	base := BaseEnvironment()
	baseSpace := traderx.BaseSpace(r.project())
	baseUnits, err := manifests.Render(base)
	if err != nil {
		return nil, err
	}
	bs, err := in.space(ctx, baseSpace, map[string]string{LabelProject: r.project(), LabelRole: "base"})
	if err != nil {
		return nil, err
	}
	if err := in.baseUnits(ctx, bs, baseSpace, baseUnits); err != nil {
		return nil, err
	}
	for _, e := range o.Envs {
		if err := in.env(ctx, e); err != nil {
			return nil, err
		}
	}
	return in.res, nil
}

// change records a step; the console shows it with -v (the result lists
// every change, and Progress counts them).
func (in *installer) change(c Change) {
	in.res.Changes = append(in.res.Changes, c)
	if in.o.DryRun {
		in.r.log().Debug("would " + c.String())
	} else {
		in.r.log().Debug(upperFirst(c.String()))
	}
}

// progress tells Progress how far the units of a space are, with the
// changes made in it so far.
func (in *installer) progress(slug string, done, total int, end bool) {
	if in.o.DryRun {
		return
	}
	n := 0
	for _, c := range in.res.Changes {
		if c.Space == slug {
			n++
		}
	}
	note := fmt.Sprintf("%d changes", n)
	if end && n == 0 {
		note = "up to date"
	}
	in.r.step(Step{Name: "space " + slug, Done: done, Total: total, Note: note, End: end})
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// space returns the space, creating it (or planning to) when missing. A nil
// space with no error means "planned" in a dry run.
func (in *installer) space(ctx context.Context, slug string, labels map[string]string) (*confighub.Space, error) {
	in.res.Spaces = append(in.res.Spaces, slug)
	sp, err := in.read(ctx, slug)
	if err == nil {
		if sp, err = in.label(ctx, sp, labels); err == nil {
			in.spaces[slug] = sp
		}
		return sp, err
	}
	if !confighub.IsNotFound(err) {
		return nil, err
	}
	in.change(Change{Space: slug, Kind: "space"})
	if in.o.DryRun {
		in.planned[slug] = true
		return nil, nil
	}
	start := in.r.clock().Now()
	sp, err = in.r.Hub.CreateSpace(ctx, confighub.Space{Slug: slug, DisplayName: slug, Labels: labels})
	in.r.record("create-space", labels[LabelEnvironment], nil, nil, start, err)
	if err != nil {
		return nil, fmt.Errorf("create space %s: %w", slug, err)
	}
	in.spaces[slug] = sp
	return sp, nil
}

// label gives a space that exists already (created for its worker, say, by
// `cub space create`) the labels install would have created it with: cub's
// ENVIRONMENT column and the tool's own look-ups read them.
func (in *installer) label(ctx context.Context, sp *confighub.Space, labels map[string]string) (*confighub.Space, error) {
	missing := map[string]string{}
	for k, v := range labels {
		if sp.Labels[k] != v {
			missing[k] = v
		}
	}
	if len(missing) == 0 {
		return sp, nil
	}
	keys := slices.Sorted(maps.Keys(missing))
	in.change(Change{Space: sp.Slug, Kind: "space-labels", Detail: strings.Join(keys, ", ")})
	if in.o.DryRun {
		return sp, nil
	}
	start := in.r.clock().Now()
	got, err := in.r.Hub.LabelSpace(ctx, sp.SpaceID, missing)
	in.r.record("label-space", labels[LabelEnvironment], nil, nil, start, err)
	if err != nil {
		return nil, fmt.Errorf("label space %s: %w", sp.Slug, err)
	}
	return got, nil
}

func (in *installer) units(ctx context.Context, sp *confighub.Space) (map[string]*confighub.ExtendedUnit, error) {
	out := map[string]*confighub.ExtendedUnit{}
	if sp == nil {
		return out, nil
	}
	list, err := in.r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", sp.Slug, err)
	}
	for i := range list {
		if list[i].Unit != nil {
			out[list[i].Unit.Slug] = &list[i]
		}
	}
	return out, nil
}

func (in *installer) baseUnits(ctx context.Context, sp *confighub.Space, slug string, units []manifests.Unit) error {
	have, err := in.units(ctx, sp)
	if err != nil {
		return err
	}
	for i, u := range units {
		in.progress(slug, i, len(units), false)
		in.res.Units++
		data, err := manifests.EncodeYAML(u.Objects)
		if err != nil {
			return err
		}
		labels := UnitLabels(u)
		cur := have[u.Name]
		if cur == nil {
			in.change(Change{Space: slug, Kind: "unit", Name: u.Name, Detail: "tier " + strconv.Itoa(u.Tier)})
			if in.o.DryRun {
				continue
			}
			start := in.r.clock().Now()
			nu, err := in.r.Hub.CreateUnit(ctx, sp.SpaceID, confighub.Unit{Slug: u.Name, ToolchainType: confighub.ToolchainKubernetesYAML,
				Data: data, Labels: labels, LastChangeDescription: in.r.describe("traderx install: base from the model")}, uuid.Nil, uuid.Nil)
			in.r.record("create-unit", "", []string{slug + "/" + u.Name}, revOf(slug, u.Name, nu), start, err)
			if err != nil {
				return fmt.Errorf("create unit %s/%s: %w", slug, u.Name, err)
			}
			continue
		}
		patch := map[string]any{}
		if !bytes.Equal(cur.Unit.Data, data) {
			in.change(Change{Space: slug, Kind: "data", Name: u.Name, Detail: "the model changed"})
			patch["Data"] = data
			patch["LastChangeDescription"] = in.r.describe("traderx install: base follows the model")
		}
		if !labelsInclude(cur.Unit.Labels, labels) {
			in.change(Change{Space: slug, Kind: "labels", Name: u.Name})
			patch["Labels"] = labels
		}
		if err := in.patch(ctx, sp, "", u.Name, cur.Unit.UnitID, patch); err != nil {
			return err
		}
	}
	in.progress(slug, len(units), len(units), true)
	return nil
}

func (in *installer) patch(ctx context.Context, sp *confighub.Space, env, unit string, id uuid.UUID, patch map[string]any) error {
	if len(patch) == 0 || in.o.DryRun {
		return nil
	}
	start := in.r.clock().Now()
	nu, err := in.r.Hub.PatchUnit(ctx, sp.SpaceID, id, patch, confighub.UnitUpdateParams{})
	in.r.record("update-unit", env, []string{sp.Slug + "/" + unit}, revOf(sp.Slug, unit, nu), start, err)
	if err != nil {
		return fmt.Errorf("update unit %s/%s: %w", sp.Slug, unit, err)
	}
	return nil
}

func revOf(space, unit string, u *confighub.Unit) map[string]int64 {
	if u == nil {
		return nil
	}
	return map[string]int64{space + "/" + unit: u.HeadRevisionNum}
}

func labelsInclude(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func (in *installer) env(ctx context.Context, e traderx.Environment) error {
	project := in.r.project()
	slug := e.Space(project)
	upSlug := traderx.BaseSpace(project)
	if e.Upstream != "" {
		upSlug = traderx.Environment{Name: e.Upstream}.Space(project)
	}
	var up *confighub.Space
	if !in.planned[upSlug] {
		var err error
		if up, err = in.read(ctx, upSlug); err != nil {
			return fmt.Errorf("upstream space %s of %s: %w", upSlug, e.Name, err)
		}
	}
	upUnits, err := in.units(ctx, up)
	if err != nil {
		return err
	}
	sp, err := in.space(ctx, slug, map[string]string{LabelProject: project, LabelRole: "environment", LabelEnvironment: e.Name})
	if err != nil {
		return err
	}
	tc := in.targets[e.Name]
	target := tc.ID
	have, err := in.units(ctx, sp)
	if err != nil {
		return err
	}
	units, err := manifests.Render(e)
	if err != nil {
		return err
	}
	for i, u := range units {
		in.progress(slug, i, len(units), false)
		in.res.Units++
		data, err := manifests.EncodeYAML(u.Objects)
		if err != nil {
			return err
		}
		labels := UnitLabels(u)
		cur := have[u.Name]
		if cur == nil {
			in.change(Change{Space: slug, Kind: "unit", Name: u.Name, Detail: "clone of " + upSlug + "/" + u.Name + " with " + e.Name + " overrides"})
			if in.o.DryRun {
				continue
			}
			upu := upUnits[u.Name]
			if upu == nil {
				return fmt.Errorf("upstream unit %s/%s is missing: run install for %s first", upSlug, u.Name, upSlug)
			}
			start := in.r.clock().Now()
			nu, err := in.r.Hub.CreateUnit(ctx, sp.SpaceID, confighub.Unit{Slug: u.Name, ToolchainType: confighub.ToolchainKubernetesYAML,
				Labels: labels, TargetID: target, LastChangeDescription: in.r.describe("traderx install: clone of " + upSlug)},
				up.SpaceID, upu.Unit.UnitID)
			in.r.record("create-unit", e.Name, []string{slug + "/" + u.Name}, revOf(slug, u.Name, nu), start, err)
			if confighub.IsConflict(err) {
				// Created meanwhile (another run, or a lost answer): use it.
				if eu, gerr := in.r.Hub.ListUnits(ctx, sp.SpaceID, "Slug = '"+u.Name+"'"); gerr == nil && len(eu) == 1 && eu[0].Unit != nil {
					nu, err = eu[0].Unit, nil
				}
			}
			if err != nil {
				return fmt.Errorf("create unit %s/%s: %w", slug, u.Name, err)
			}
			cur = &confighub.ExtendedUnit{Unit: nu}
		}
		patch := map[string]any{}
		// A clone still at its first revision has not received its
		// environment's overrides yet (a fresh or interrupted install).
		if cur.Unit.HeadRevisionNum <= 1 && !bytes.Equal(cur.Unit.Data, data) {
			if have[u.Name] != nil {
				in.change(Change{Space: slug, Kind: "data", Name: u.Name, Detail: e.Name + " overrides"})
			}
			patch["Data"] = data
			patch["LastChangeDescription"] = in.r.describe("traderx install: " + e.Name + " overrides (namespace, replicas, resources)")
		} else if have[u.Name] != nil && !bytes.Equal(cur.Unit.Data, data) {
			in.r.log().Debug("unit differs from the model; kept (changed since install)", "space", slug, "unit", u.Name)
		}
		if !labelsInclude(cur.Unit.Labels, labels) {
			in.change(Change{Space: slug, Kind: "labels", Name: u.Name})
			patch["Labels"] = labels
		}
		if cur.Unit.TargetID != target && !(in.o.DryRun && target == uuid.Nil) {
			if have[u.Name] != nil {
				in.change(Change{Space: slug, Kind: "set-target", Name: u.Name, Detail: tc.Slug})
			}
			patch["TargetID"] = target.String()
		}
		if err := in.patch(ctx, sp, e.Name, u.Name, cur.Unit.UnitID, patch); err != nil {
			return err
		}
	}
	in.progress(slug, len(units), len(units), true)
	return nil
}

// target finds the target an environment's units are bound to: in the
// environment's space, the Kubernetes target named by slug, else the only one.
func (in *installer) target(ctx context.Context, e traderx.Environment, slug string) (*TargetChoice, error) {
	r := in.r
	space := e.Space(r.project())
	sp, err := in.read(ctx, space)
	if confighub.IsNotFound(err) {
		return nil, noTargetError(e, space, slug, nil, false)
	}
	if err != nil {
		return nil, err
	}
	list, err := r.Hub.ListTargets(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list targets of %s: %w", space, err)
	}
	tc, have := chooseTarget(list, space, slug)
	if tc == nil {
		return nil, noTargetError(e, space, slug, have, true)
	}
	return tc, nil
}
