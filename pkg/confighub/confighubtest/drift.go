package confighubtest

import (
	"encoding/base64"
	"reflect"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// serverOwned are fields the API server or controllers write and a refresh
// therefore never compares: a unit setting them (creationTimestamp: null from
// generated manifests, a stale resourceVersion) is not drift.
var serverOwned = map[string]bool{
	"status":                              true,
	"metadata.creationTimestamp":          true,
	"metadata.resourceVersion":            true,
	"metadata.generation":                 true,
	"metadata.uid":                        true,
	"metadata.managedFields":              true,
	"metadata.selfLink":                   true,
	"metadata.deletionTimestamp":          true,
	"metadata.deletionGracePeriodSeconds": true,
}

// normalizeDesired returns u as the API server would store what it sets:
// a Secret's stringData becomes base64 data (the server folds it in and never
// returns stringData).
func normalizeDesired(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u.GetAPIVersion() != "v1" || u.GetKind() != "Secret" {
		return u
	}
	sd, ok := u.Object["stringData"].(map[string]any)
	if !ok {
		return u
	}
	c := u.DeepCopy()
	data, _ := c.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	c.Object["data"] = data
	delete(c.Object, "stringData")
	return c
}

// adopt compares desired (what a unit sets) with live on the fields desired
// sets, and returns desired with the live values of those fields in place.
// Fields only live has (server defaults, fields set by controllers) are
// ignored, so an untouched object never differs. Lists of objects with a
// "name" (containers, env, ports, volumes) are matched by name: a live element
// the unit lacks, a missing one, or another order is a difference, and merged
// follows live. Quantities compare by value ("0.5" and "500m" are equal) and
// keep the unit's spelling when equal.
//
// The SDK's newer worker also counts fields only live has (its Refresh says
// so, pending an ignore list for defaults); a stand-in that did so would see
// drift in every untouched object, so this one does not.
func adopt(desired, live any, path []string) (merged any, differs bool) {
	if len(path) > 0 && serverOwned[joinPath(path)] {
		return desired, false
	}
	switch d := desired.(type) {
	case nil:
		return nil, false
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			if live == nil && len(d) == 0 {
				return d, false
			}
			return live, true
		}
		out := make(map[string]any, len(d))
		for k, dv := range d {
			p := append(slices.Clone(path), k)
			lv, ok := l[k]
			if !ok && !serverOwned[joinPath(p)] {
				if isEmpty(dv) {
					out[k] = dv
					continue
				}
				differs = true // removed live: merged drops it too
				continue
			}
			m, diff := adopt(dv, lv, p)
			out[k] = m
			differs = differs || diff
		}
		return out, differs
	case []any:
		l, ok := live.([]any)
		if !ok {
			if live == nil && len(d) == 0 {
				return d, false
			}
			return live, true
		}
		if dn, ln := names(d), names(l); dn != nil && ln != nil {
			return adoptNamed(d, l, dn, ln, path)
		}
		if len(d) != len(l) {
			return l, true
		}
		out := make([]any, len(d))
		for i := range d {
			m, diff := adopt(d[i], l[i], path)
			out[i] = m
			differs = differs || diff
		}
		return out, differs
	default:
		if scalarEqual(desired, live, path) {
			return desired, false
		}
		return live, true
	}
}

// adoptNamed merges lists whose elements are all objects with a name.
func adoptNamed(d, l []any, dn, ln []string, path []string) (any, bool) {
	differs := !slices.Equal(dn, ln)
	byName := make(map[string]any, len(d))
	for i, n := range dn {
		byName[n] = d[i]
	}
	out := make([]any, 0, len(l))
	for i, n := range ln {
		de, ok := byName[n]
		if !ok {
			out = append(out, l[i])
			continue
		}
		m, diff := adopt(de, l[i], path)
		out = append(out, m)
		differs = differs || diff
	}
	return out, differs
}

// names returns the "name" of every element, or nil unless every element is
// an object with a string name.
func names(list []any) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := m["name"].(string)
		if !ok {
			return nil
		}
		out = append(out, n)
	}
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}

// scalarEqual compares leaves: numbers by value whatever their Go type (YAML
// decodes to float64, the API to int64), and inside resource lists by
// quantity, where the API server canonicalises ("0.5" is stored as "500m",
// a YAML number 1 as "1").
func scalarEqual(d, l any, path []string) bool {
	if underResources(path) {
		if dq, ok := quantity(d); ok {
			if lq, ok := quantity(l); ok {
				return dq.Cmp(lq) == 0
			}
		}
	}
	if df, ok := number(d); ok {
		lf, ok := number(l)
		return ok && df == lf
	}
	return reflect.DeepEqual(d, l)
}

func quantity(v any) (resource.Quantity, bool) {
	s, ok := v.(string)
	if !ok {
		f, isNum := number(v)
		if !isNum {
			return resource.Quantity{}, false
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// underResources reports whether path is inside a resource list (container
// resources, a ResourceQuota's hard, a LimitRange's limits), where strings are
// quantities.
func underResources(path []string) bool {
	for _, p := range path {
		switch p {
		case "resources", "limits", "requests", "hard", "capacity", "allocatable", "sizeLimit":
			return true
		}
	}
	return false
}

func joinPath(path []string) string {
	n := 0
	for _, p := range path {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range path {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, p...)
	}
	return string(b)
}
