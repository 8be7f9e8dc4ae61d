package validate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// rendered returns a fresh copy of an environment's rendered objects, ready
// to be mutated.
func rendered(t testing.TB, envName string) (traderx.Environment, []*unstructured.Unstructured) {
	t.Helper()
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		t.Fatal(err)
	}
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	return env, manifests.Objects(units)
}

func runOffline(t testing.TB, env traderx.Environment, objs []*unstructured.Unstructured) *check.Report {
	t.Helper()
	r, err := Run(Input{Env: env, Objects: objs, OfflineReason: "offline (test)"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// obj returns the object of a kind and name; the test fails without it.
func obj(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the rendered objects", kind, name)
	return nil
}

// without drops the object of a kind and name.
func without(t testing.TB, objs []*unstructured.Unstructured, kind, name string) []*unstructured.Unstructured {
	t.Helper()
	obj(t, objs, kind, name)
	return slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == kind && o.GetName() == name })
}

// m walks nested maps (and list indexes as ints) of an object, for in-place edits.
func m(t testing.TB, root map[string]any, path ...any) map[string]any {
	t.Helper()
	var cur any = root
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("path %v: %T is not a map at %q", path, cur, k)
			}
			cur = mm[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("path %v: no item %d", path, k)
			}
			cur = l[k]
		}
	}
	out, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("path %v: %T is not a map", path, cur)
	}
	return out
}

// container returns the first container of a Deployment, editable in place.
func container(t testing.TB, objs []*unstructured.Unstructured, deployment string) map[string]any {
	t.Helper()
	return m(t, obj(t, objs, "Deployment", deployment).Object, "spec", "template", "spec", "containers", 0)
}

func podSpec(t testing.TB, objs []*unstructured.Unstructured, deployment string) map[string]any {
	t.Helper()
	return m(t, obj(t, objs, "Deployment", deployment).Object, "spec", "template", "spec")
}

// setEnv sets (or with value nil, removes) an env variable of a Deployment's container.
func setEnv(t testing.TB, objs []*unstructured.Unstructured, deployment, name string, value any) {
	t.Helper()
	c := container(t, objs, deployment)
	env, _ := c["env"].([]any)
	var out []any
	found := false
	for _, e := range env {
		em := e.(map[string]any)
		if em["name"] == name {
			found = true
			switch v := value.(type) {
			case nil:
				continue
			case string:
				delete(em, "valueFrom")
				em["value"] = v
			case map[string]any:
				delete(em, "value")
				em["valueFrom"] = v
			}
		}
		out = append(out, em)
	}
	if !found && value != nil {
		out = append(out, map[string]any{"name": name, "value": value})
	}
	if !found && value == nil {
		t.Fatalf("%s has no env %s", deployment, name)
	}
	c["env"] = out
}

// pathOf returns the path entry of an Ingress for a path.
func pathOf(t testing.TB, objs []*unstructured.Unstructured, ingress, path string) map[string]any {
	t.Helper()
	rule := m(t, obj(t, objs, "Ingress", ingress).Object, "spec", "rules", 0, "http")
	for _, p := range rule["paths"].([]any) {
		if pm := p.(map[string]any); pm["path"] == path {
			return pm
		}
	}
	t.Fatalf("Ingress %s has no path %s", ingress, path)
	return nil
}

func dropIngressPath(t testing.TB, objs []*unstructured.Unstructured, ingress, path string) {
	t.Helper()
	pathOf(t, objs, ingress, path)
	rule := m(t, obj(t, objs, "Ingress", ingress).Object, "spec", "rules", 0, "http")
	rule["paths"] = slices.DeleteFunc(rule["paths"].([]any), func(p any) bool { return p.(map[string]any)["path"] == path })
}

// find returns the checks of a suite, name and target.
func find(r *check.Report, suite, name, target string) []check.Check {
	var out []check.Check
	for _, c := range r.Checks {
		if c.Suite == suite && c.Name == name && c.Target == target {
			out = append(out, c)
		}
	}
	return out
}

// bad lists the checks of a report that did not pass or skip, one a line.
func bad(r *check.Report) string {
	var b strings.Builder
	for _, c := range r.Checks {
		if c.Status == check.StatusFail || c.Status == check.StatusWarn {
			fmt.Fprintf(&b, "  %s %s %s %s: %s\n", c.Status, c.Suite, c.Name, c.Target, c.Message)
		}
	}
	return b.String()
}

// expectedWarnings are the only WARNs a clean environment has: the
// singletons of a protected environment (see availabilitySuite).
func expectedWarnings(env traderx.Environment) map[string]bool {
	out := map[string]bool{}
	if env.Protected {
		for _, s := range traderx.Services() {
			if s.Singleton {
				out["service/"+s.Name] = true
			}
		}
	}
	return out
}
