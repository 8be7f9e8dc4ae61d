package confighubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// mergePatch applies an RFC 7396 merge patch to target.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	out := make(map[string]any, len(tm))
	for k, v := range tm {
		out[k] = v
	}
	for k, v := range pm {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

// diffPatch returns the merge patch that turns a into b (lists are atomic).
func diffPatch(a, b map[string]any) map[string]any {
	p := map[string]any{}
	for k, bv := range b {
		av, ok := a[k]
		if ok && reflect.DeepEqual(av, bv) {
			continue
		}
		am, aIsMap := av.(map[string]any)
		bm, bIsMap := bv.(map[string]any)
		if ok && aIsMap && bIsMap {
			p[k] = diffPatch(am, bm)
			continue
		}
		p[k] = bv
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			p[k] = nil
		}
	}
	return p
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

type yamlDoc struct {
	key string
	obj map[string]any
}

func splitDocs(data []byte) ([]yamlDoc, error) {
	var docs []yamlDoc
	for i, part := range docSep.Split(string(data), -1) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		j, err := yaml.YAMLToJSON([]byte(part))
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil || obj == nil {
			if err == nil {
				err = fmt.Errorf("document %d is not an object", i)
			}
			return nil, err
		}
		docs = append(docs, yamlDoc{key: docKey(obj, i), obj: obj})
	}
	return docs, nil
}

func docKey(obj map[string]any, i int) string {
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if name == "" {
		return fmt.Sprintf("#%d", i)
	}
	kind, _ := obj["kind"].(string)
	// apiVersion and namespace are left out on purpose: environments commonly
	// override the namespace, and the object is still the same one.
	return kind + "/" + name
}

// upgradeData merges the upstream's new head into the unit's data, keeping the
// unit's own changes relative to base (the upstream data it last took). With
// no local changes, or when anything fails to parse, it is the upstream head.
func upgradeData(base, ours, theirs []byte) []byte {
	if base == nil || bytes.Equal(base, ours) {
		return append([]byte(nil), theirs...)
	}
	bDocs, err1 := splitDocs(base)
	oDocs, err2 := splitDocs(ours)
	tDocs, err3 := splitDocs(theirs)
	if err1 != nil || err2 != nil || err3 != nil {
		return append([]byte(nil), theirs...)
	}
	index := func(docs []yamlDoc) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, d := range docs {
			m[d.key] = d.obj
		}
		return m
	}
	for _, docs := range [][]yamlDoc{bDocs, oDocs, tDocs} {
		for i := range docs {
			docs[i].obj = keyed(docs[i].obj).(map[string]any)
		}
	}
	bIdx, oIdx, tIdx := index(bDocs), index(oDocs), index(tDocs)
	var out []map[string]any
	for _, d := range tDocs {
		b, inBase := bIdx[d.key]
		o, inOurs := oIdx[d.key]
		switch {
		case inBase && !inOurs:
			continue // removed downstream
		case inBase && inOurs:
			out = append(out, mergePatch(d.obj, diffPatch(b, o)).(map[string]any))
		default:
			out = append(out, d.obj)
		}
	}
	for _, d := range oDocs {
		if _, inBase := bIdx[d.key]; inBase {
			continue
		}
		if _, inTheirs := tIdx[d.key]; inTheirs {
			continue
		}
		out = append(out, d.obj) // added downstream
	}
	var buf bytes.Buffer
	for i, obj := range out {
		y, err := yaml.Marshal(unkeyed(obj))
		if err != nil {
			return append([]byte(nil), theirs...)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes()
}

// Lists whose items are all objects with a distinct "name" (containers, env,
// ports, volumes) are merged item by item, as Kubernetes strategic merge
// does: a downstream override of one container's resources must not undo an
// upstream image change in the same list. keyed turns such lists into maps by
// name (remembering the order); unkeyed turns them back.
const (
	keyedMarker = "\x00keyed"
	keyedOrder  = "\x00order"
)

func keyed(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = keyed(e)
		}
		return out
	case []any:
		names := make([]any, 0, len(x))
		m := map[string]any{keyedMarker: true}
		for _, e := range x {
			em, ok := e.(map[string]any)
			name, _ := em["name"].(string)
			if !ok || name == "" || m[name] != nil {
				out := make([]any, len(x))
				for i, e := range x {
					out[i] = keyed(e)
				}
				return out
			}
			m[name] = keyed(em)
			names = append(names, name)
		}
		if len(x) == 0 {
			return x
		}
		m[keyedOrder] = names
		return m
	}
	return v
}

func unkeyed(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x[keyedMarker] == true {
			var out []any
			seen := map[string]bool{}
			order, _ := x[keyedOrder].([]any)
			for _, n := range order {
				name, _ := n.(string)
				if item, ok := x[name]; ok && !seen[name] {
					out = append(out, unkeyed(item))
					seen[name] = true
				}
			}
			var rest []string
			for k := range x {
				if k != keyedMarker && k != keyedOrder && !seen[k] {
					rest = append(rest, k)
				}
			}
			sort.Strings(rest)
			for _, k := range rest {
				out = append(out, unkeyed(x[k]))
			}
			return out
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = unkeyed(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unkeyed(e)
		}
		return out
	}
	return v
}
