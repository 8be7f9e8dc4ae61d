package rollout

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/diff"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// UnitDiff is how one unit differs between two sides (two environments, or
// live and head).
type UnitDiff struct {
	Unit string `json:"unit"`
	// FromName and ToName label the sides, e.g. "dev/people-service-deployment".
	FromName string `json:"from"`
	ToName   string `json:"to"`
	// FromRevision and ToRevision are the revisions compared (0: none).
	FromRevision int64 `json:"fromRevision,omitempty"`
	ToRevision   int64 `json:"toRevision,omitempty"`
	// From and To are the YAML texts to show: canonical, with the fields
	// that are expected to differ already reconciled (see DiffEnvironments)
	// or live state pruned to the fields head has (see DiffLive).
	From []byte `json:"-"`
	To   []byte `json:"-"`
	// Changes are the changed fields between From and To.
	Changes []diff.Change `json:"changes"`
	// Ignored counts fields that differ as the model says they must.
	Ignored int `json:"ignored,omitempty"`
	// Note explains a side that has no data (e.g. "never applied").
	Note string `json:"note,omitempty"`
}

// EnvDiff is the comparison of every unit of two sides.
type EnvDiff struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Compared counts the units compared; Units lists those that differ.
	Compared int        `json:"compared"`
	Units    []UnitDiff `json:"units"`
	// Ignored counts fields that differ as the model says they must.
	Ignored int `json:"ignored"`
}

// headData reads the head data of every unit of a space, by slug, with the
// head revision numbers.
func (r *Rollout) headData(ctx context.Context, sp *confighub.Space) (map[string][]byte, map[string]int64, error) {
	list, err := r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, nil, fmt.Errorf("list units of %s: %w", sp.Slug, err)
	}
	data, revs := map[string][]byte{}, map[string]int64{}
	for _, eu := range list {
		u := eu.Unit
		if u == nil {
			continue
		}
		if len(u.Data) == 0 && u.HeadRevisionNum > 0 {
			full, err := r.Hub.GetUnit(ctx, sp.SpaceID, u.UnitID)
			if err != nil {
				return nil, nil, fmt.Errorf("read unit %s/%s: %w", sp.Slug, u.Slug, err)
			}
			u = full.Unit
		}
		data[u.Slug], revs[u.Slug] = u.Data, u.HeadRevisionNum
	}
	return data, revs, nil
}

// modelUnits returns the rendered units of an environment, limited to some
// services (none: every unit).
func modelUnits(env traderx.Environment, services []string) ([]manifests.Unit, error) {
	if _, err := traderx.LookupServices(services); err != nil {
		return nil, &InputError{Err: err}
	}
	units, err := manifests.Render(env)
	if err != nil {
		return nil, err
	}
	if len(services) == 0 {
		return units, nil
	}
	return slices.DeleteFunc(units, func(u manifests.Unit) bool { return !slices.Contains(services, u.Service) }), nil
}

// DiffEnvironments compares the head data of two environments' units, unit
// by unit. Fields the model itself renders differently for the two
// environments (namespace, environment label, replicas, resources,
// circuit-breaker settings, ingress host, prod's PodDisruptionBudgets and
// topology spread, …) are expected to differ and are ignored — as long as
// each environment carries exactly its own rendered value there. A value
// that departs from the model (say staging scaled by hand) is shown. Read-only.
func (r *Rollout) DiffEnvironments(ctx context.Context, a, b traderx.Environment, services []string) (*EnvDiff, error) {
	ua, err := modelUnits(a, services)
	if err != nil {
		return nil, err
	}
	ub, err := modelUnits(b, services)
	if err != nil {
		return nil, err
	}
	renderedB := map[string]manifests.Unit{}
	for _, u := range ub {
		renderedB[u.Name] = u
	}
	spA, err := r.Space(ctx, a)
	if err != nil {
		return nil, err
	}
	spB, err := r.Space(ctx, b)
	if err != nil {
		return nil, err
	}
	dataA, revA, err := r.headData(ctx, spA)
	if err != nil {
		return nil, err
	}
	dataB, revB, err := r.headData(ctx, spB)
	if err != nil {
		return nil, err
	}
	out := &EnvDiff{From: a.Name, To: b.Name, Units: []UnitDiff{}}
	for _, u := range ua {
		rb, ok := renderedB[u.Name]
		if !ok {
			continue
		}
		ud, err := CompareUnits(u.Objects, rb.Objects, dataA[u.Name], dataB[u.Name])
		if err != nil {
			return nil, fmt.Errorf("unit %s: %w", u.Name, err)
		}
		ud.Unit, ud.FromName, ud.ToName = u.Name, a.Name+"/"+u.Name, b.Name+"/"+u.Name
		ud.FromRevision, ud.ToRevision = revA[u.Name], revB[u.Name]
		switch {
		case revA[u.Name] == 0 && revB[u.Name] == 0:
			ud.Note = "in neither environment"
		case revA[u.Name] == 0:
			ud.Note = "not in " + a.Name
		case revB[u.Name] == 0:
			ud.Note = "not in " + b.Name
		}
		out.Compared++
		out.Ignored += ud.Ignored
		if len(ud.Changes) > 0 {
			out.Units = append(out.Units, ud)
		}
	}
	return out, nil
}

// CompareUnits compares one unit's data in two environments, given the
// unit's objects as the model renders each environment. A field where the
// two renderings differ is reconciled — From takes To's value — when each
// side holds its own rendered value; every other difference stays. The
// result's From/To are canonical YAML and Changes lists the fields that
// still differ.
func CompareUnits(renderedA, renderedB []*unstructured.Unstructured, dataA, dataB []byte) (UnitDiff, error) {
	objsA, err := manifests.Decode(dataA)
	if err != nil {
		return UnitDiff{}, fmt.Errorf("malformed data: %w", err)
	}
	objsB, err := manifests.Decode(dataB)
	if err != nil {
		return UnitDiff{}, fmt.Errorf("malformed data: %w", err)
	}
	ra, rb, da, db := byKey(renderedA), byKey(renderedB), byKey(objsA), byKey(objsB)
	ignored := 0
	for _, k := range unionKeys(ra, rb) {
		oa, inA := ra[k]
		ob, inB := rb[k]
		if !inA || !inB {
			// An object the model renders for one environment only (prod's
			// PodDisruptionBudgets): expected when each side is as rendered.
			if reflect.DeepEqual(da[k], oa) && reflect.DeepEqual(db[k], ob) && !reflect.DeepEqual(da[k], db[k]) {
				if db[k] == nil {
					delete(da, k)
				} else {
					da[k] = deepCopy(db[k]).(map[string]any)
				}
				ignored++
			}
			continue
		}
		if da[k] == nil || db[k] == nil {
			continue
		}
		for _, p := range diff.Paths(oa, ob) {
			va, okA := diff.Get(da[k], p)
			vb, okB := diff.Get(db[k], p)
			ma, okMA := diff.Get(oa, p)
			mb, okMB := diff.Get(ob, p)
			if okA != okMA || okB != okMB || !reflect.DeepEqual(va, ma) || !reflect.DeepEqual(vb, mb) {
				continue // departs from the model on some side: show it
			}
			if setPath(da[k], p, deepCopy(vb), okB) {
				ignored++
			}
		}
	}
	from, err := encodeInOrder(da, objsB, objsA)
	if err != nil {
		return UnitDiff{}, err
	}
	to, err := manifests.EncodeYAML(objsB)
	if err != nil {
		return UnitDiff{}, err
	}
	changes, err := diff.Fields(from, to)
	if err != nil {
		return UnitDiff{}, err
	}
	return UnitDiff{From: from, To: to, Changes: changes, Ignored: ignored}, nil
}

// LiveStateReader reads a unit's live state; *confighub.Client implements it.
// DiffLive needs it besides Hub.
type LiveStateReader interface {
	LiveState(ctx context.Context, spaceID, unitID uuid.UUID) ([]byte, error)
}

var _ LiveStateReader = (*confighub.Client)(nil)

// DiffLive compares every unit's live state (what ConfigHub last applied,
// as the cluster returned it) with its head data, on the fields head holds
// only: defaults and status the cluster adds are not differences, and
// quantities compare by value ("1000m" = "1"). A unit never applied shows
// its whole head as added. Read-only.
func (r *Rollout) DiffLive(ctx context.Context, env traderx.Environment, services []string) (*EnvDiff, error) {
	lr, ok := r.Hub.(LiveStateReader)
	if !ok {
		return nil, fmt.Errorf("rollout: the ConfigHub client (%T) cannot read live state", r.Hub)
	}
	units, err := modelUnits(env, services)
	if err != nil {
		return nil, err
	}
	sp, err := r.Space(ctx, env)
	if err != nil {
		return nil, err
	}
	list, err := r.Hub.ListUnits(ctx, sp.SpaceID, "")
	if err != nil {
		return nil, fmt.Errorf("list units of %s: %w", sp.Slug, err)
	}
	bySlug := map[string]*confighub.Unit{}
	for _, eu := range list {
		if eu.Unit != nil {
			bySlug[eu.Unit.Slug] = eu.Unit
		}
	}
	out := &EnvDiff{From: env.Name + " (live)", To: env.Name + " (head)", Units: []UnitDiff{}}
	for _, mu := range units {
		u := bySlug[mu.Name]
		if u == nil {
			return nil, inputf("unit %s not found in space %s: run `%s`", mu.Name, sp.Slug, r.next(hint.Install(env.Name)))

		}
		head := u.Data
		if len(head) == 0 && u.HeadRevisionNum > 0 {
			full, err := r.Hub.GetUnit(ctx, sp.SpaceID, u.UnitID)
			if err != nil {
				return nil, fmt.Errorf("read unit %s/%s: %w", sp.Slug, u.Slug, err)
			}
			u, head = full.Unit, full.Unit.Data
		}
		var live []byte
		note := ""
		if u.LiveRevisionNum > 0 {
			if live, err = lr.LiveState(ctx, sp.SpaceID, u.UnitID); err != nil {
				return nil, fmt.Errorf("live state of %s/%s: %w", sp.Slug, u.Slug, err)
			}
		} else {
			note = "never applied"
		}
		ud, err := CompareLive(head, live)
		if err != nil {
			return nil, fmt.Errorf("unit %s: %w", u.Slug, err)
		}
		ud.Unit, ud.Note = u.Slug, note
		ud.FromName = fmt.Sprintf("%s/%s (live, revision %d)", env.Name, u.Slug, u.LiveRevisionNum)
		ud.ToName = fmt.Sprintf("%s/%s (head, revision %d)", env.Name, u.Slug, u.HeadRevisionNum)
		ud.FromRevision, ud.ToRevision = u.LiveRevisionNum, u.HeadRevisionNum
		out.Compared++
		if len(ud.Changes) > 0 {
			out.Units = append(out.Units, ud)
		}
	}
	return out, nil
}

// CompareLive compares live state with head data on head's fields: live
// objects are pruned to the shape of the head object of the same kind and
// name (list items matched by name when they have one, else by position).
func CompareLive(head, live []byte) (UnitDiff, error) {
	hObjs, err := manifests.Decode(head)
	if err != nil {
		return UnitDiff{}, fmt.Errorf("malformed head data: %w", err)
	}
	lObjs, err := manifests.Decode(live)
	if err != nil {
		return UnitDiff{}, fmt.Errorf("malformed live state: %w", err)
	}
	hk := byKey(hObjs)
	var pruned []*unstructured.Unstructured
	for _, l := range lObjs {
		k := l.GetKind() + "/" + l.GetName()
		if h, ok := hk[k]; ok {
			pruned = append(pruned, &unstructured.Unstructured{Object: pruneTo(h, l.Object).(map[string]any)})
			continue
		}
		pruned = append(pruned, l)
	}
	from, err := encodeInOrder(byKey(pruned), hObjs, pruned)
	if err != nil {
		return UnitDiff{}, err
	}
	to, err := manifests.EncodeYAML(hObjs)
	if err != nil {
		return UnitDiff{}, err
	}
	changes, err := diff.Fields(from, to)
	if err != nil {
		return UnitDiff{}, err
	}
	return UnitDiff{From: from, To: to, Changes: changes}, nil
}

// pruneTo keeps of live only what head has, recursively. Scalars that are
// equal Kubernetes quantities take head's spelling.
func pruneTo(head, live any) any {
	switch h := head.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live
		}
		out := map[string]any{}
		for k, hv := range h {
			if lv, ok := l[k]; ok {
				out[k] = pruneTo(hv, lv)
			} else if isZero(hv) {
				// The API server omits empty and zero values (omitempty):
				// `ingress: []` or `initialDelaySeconds: 0` in head is live
				// when the live object lacks the field.
				out[k] = hv
			}
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok {
			return live
		}
		names := map[string]any{}
		for _, hv := range h {
			if n, ok := itemName(hv); ok {
				names[n] = hv
			}
		}
		byName := len(names) == len(h) && len(h) > 0
		out := make([]any, len(l))
		for i, lv := range l {
			switch n, ok := itemName(lv); {
			case byName && ok && names[n] != nil:
				out[i] = pruneTo(names[n], lv)
			case !byName && i < len(h):
				out[i] = pruneTo(h[i], lv)
			default:
				out[i] = lv
			}
		}
		return out
	case string:
		if l, ok := live.(string); ok && l != h && sameQuantity(h, l) {
			return h
		}
	}
	return live
}

// isZero reports values the API server drops: nil, zero scalars, empty
// lists, and maps holding nothing else.
func isZero(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, x := range t {
			if !isZero(x) {
				return false
			}
		}
		return true
	case []any:
		return len(t) == 0
	case string:
		return t == ""
	case bool:
		return !t
	case float64:
		return t == 0
	case int64:
		return t == 0
	}
	return false
}

func itemName(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	n, ok := m["name"].(string)
	return n, ok && n != ""
}

func sameQuantity(a, b string) bool {
	qa, err := resource.ParseQuantity(a)
	if err != nil {
		return false
	}
	qb, err := resource.ParseQuantity(b)
	return err == nil && qa.Cmp(qb) == 0
}

// ---- structural helpers ----

func byKey(objs []*unstructured.Unstructured) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, o := range objs {
		m[o.GetKind()+"/"+o.GetName()] = o.Object
	}
	return m
}

func unionKeys(a, b map[string]map[string]any) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// encodeInOrder encodes the objects of m in the order of the first list
// whose objects it has, then any others in the order of rest.
func encodeInOrder(m map[string]map[string]any, order, rest []*unstructured.Unstructured) ([]byte, error) {
	var objs []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, list := range [][]*unstructured.Unstructured{order, rest} {
		for _, o := range list {
			k := o.GetKind() + "/" + o.GetName()
			if obj, ok := m[k]; ok && !seen[k] {
				seen[k] = true
				objs = append(objs, &unstructured.Unstructured{Object: obj})
			}
		}
	}
	return manifests.EncodeYAML(objs)
}

// setPath sets (present) or deletes the value at path in place; it reports
// false when the path's parent does not exist or a list item would be deleted.
func setPath(root any, path []any, val any, present bool) bool {
	if len(path) == 0 {
		return false
	}
	parent, ok := diff.Get(root, path[:len(path)-1])
	if !ok {
		return false
	}
	switch k := path[len(path)-1].(type) {
	case string:
		m, ok := parent.(map[string]any)
		if !ok {
			return false
		}
		if present {
			m[k] = val
		} else {
			delete(m, k)
		}
		return true
	case int:
		l, ok := parent.([]any)
		if !ok || !present || k >= len(l) {
			return false
		}
		l[k] = val
		return true
	}
	return false
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}
