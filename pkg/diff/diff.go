// Package diff shows what differs between two versions of unit data: a
// unified YAML diff for people and the list of changed fields for machines.
package diff

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/fatih/color"
	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/manifests"
)

// Unified returns a unified diff of two texts with 3 lines of context; empty
// when they are equal. With colour, added lines are green and removed red.
func Unified(fromName, toName string, from, to []byte, colour bool) (string, error) {
	out, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(from)), B: difflib.SplitLines(string(to)),
		FromFile: fromName, ToFile: toName, Context: 3,
	})
	if err != nil || !colour {
		return out, err
	}
	add, del, hunk := color.New(color.FgGreen), color.New(color.FgRed), color.New(color.FgCyan)
	for _, c := range []*color.Color{add, del, hunk} {
		c.EnableColor()
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		text := strings.TrimSuffix(line, "\n")
		nl := line[len(text):]
		switch {
		case strings.HasPrefix(text, "+++"), strings.HasPrefix(text, "---"):
			b.WriteString(line)
		case strings.HasPrefix(text, "+"):
			b.WriteString(add.Sprint(text) + nl)
		case strings.HasPrefix(text, "-"):
			b.WriteString(del.Sprint(text) + nl)
		case strings.HasPrefix(text, "@@"):
			b.WriteString(hunk.Sprint(text) + nl)
		default:
			b.WriteString(line)
		}
	}
	return b.String(), nil
}

// Change is one changed field of one object.
type Change struct {
	Object string `json:"object"` // Kind/name
	Field  string `json:"field"`  // dotted path, list items as [i]
	From   any    `json:"from,omitempty"`
	To     any    `json:"to,omitempty"`
}

// Fields lists the changed fields between two multi-document YAML texts,
// matching objects by kind and name; an added or removed object is one
// change with an empty Field.
func Fields(from, to []byte) ([]Change, error) {
	a, err := manifests.Decode(from)
	if err != nil {
		return nil, fmt.Errorf("old data: %w", err)
	}
	b, err := manifests.Decode(to)
	if err != nil {
		return nil, fmt.Errorf("new data: %w", err)
	}
	index := func(objs []*unstructured.Unstructured) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, o := range objs {
			m[o.GetKind()+"/"+o.GetName()] = o.Object
		}
		return m
	}
	ia, ib := index(a), index(b)
	var keys []string
	for k := range ia {
		keys = append(keys, k)
	}
	for k := range ib {
		if _, ok := ia[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		oa, okA := ia[k]
		ob, okB := ib[k]
		switch {
		case !okA:
			out = append(out, Change{Object: k, To: "added"})
		case !okB:
			out = append(out, Change{Object: k, From: "removed"})
		default:
			walk(k, "", oa, ob, &out)
		}
	}
	return out, nil
}

func walk(obj, _ string, a, b any, out *[]Change) {
	for _, p := range Paths(a, b) {
		from, _ := Get(a, p)
		to, _ := Get(b, p)
		*out = append(*out, Change{Object: obj, Field: fieldName(p), From: from, To: to})
	}
}

// Paths lists the paths (map keys as strings, list indexes as ints) of the
// leaves where a and b differ, in a stable order; lists of different lengths
// are one leaf.
func Paths(a, b any) [][]any {
	var out [][]any
	paths(a, b, nil, &out)
	return out
}

func paths(a, b any, path []any, out *[][]any) {
	if reflect.DeepEqual(a, b) {
		return
	}
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	if okA && okB {
		keys := map[string]bool{}
		for k := range ma {
			keys[k] = true
		}
		for k := range mb {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			paths(ma[k], mb[k], append(slices.Clone(path), k), out)
		}
		return
	}
	la, okA := a.([]any)
	lb, okB := b.([]any)
	if okA && okB && len(la) == len(lb) {
		for i := range la {
			paths(la[i], lb[i], append(slices.Clone(path), i), out)
		}
		return
	}
	*out = append(*out, slices.Clone(path))
}

// Get returns the value at a path from Paths.
func Get(v any, path []any) (any, bool) {
	cur := v
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			l, ok := cur.([]any)
			if !ok || k < 0 || k >= len(l) {
				return nil, false
			}
			cur = l[k]
		}
	}
	return cur, true
}

func fieldName(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}
