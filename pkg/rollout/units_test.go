package rollout

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/traderx"
)

func obj(kind, name string, spec map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind,
		"metadata": map[string]any{"name": name}}}
	if spec != nil {
		o.Object["spec"] = spec
	}
	return o
}

func TestObjectOf(t *testing.T) {
	deploy, svc := obj("Deployment", "a", nil), obj("Service", "s", nil)
	for _, tc := range []struct {
		name    string
		objs    []*unstructured.Unstructured
		kind    string
		want    *unstructured.Unstructured
		wantErr string
	}{
		{"the one", []*unstructured.Unstructured{svc, deploy}, "Deployment", deploy, ""},
		{"another kind", []*unstructured.Unstructured{svc, deploy}, "Service", svc, ""},
		{"none", []*unstructured.Unstructured{svc}, "Deployment", nil, "no Deployment in the unit"},
		{"empty unit", nil, "Service", nil, "no Service in the unit"},
		{"two", []*unstructured.Unstructured{deploy, obj("Deployment", "b", nil)}, "Deployment", nil,
			"more than one Deployment in the unit (a, b)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := objectOf(tc.objs, tc.kind)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tc.want || gotErr != tc.wantErr {
				t.Errorf("objectOf = %v, %q; want %v, %q", got, gotErr, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec map[string]any
		want int32
	}{
		{"absent means 1", map[string]any{}, 1},
		{"int64 (YAML decoder)", map[string]any{"replicas": int64(3)}, 3},
		{"float64 (JSON decoder)", map[string]any{"replicas": float64(2)}, 2},
		{"int", map[string]any{"replicas": 4}, 4},
		{"int32", map[string]any{"replicas": int32(5)}, 5},
		{"zero", map[string]any{"replicas": int64(0)}, 0},
		{"not a number", map[string]any{"replicas": "two"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := obj("Deployment", "a", tc.spec)
			if got := replicasOf(d); got != tc.want {
				t.Errorf("replicasOf = %d, want %d", got, tc.want)
			}
			if err := setReplicas(d, tc.want+1); err != nil {
				t.Fatal(err)
			}
			if got := replicasOf(d); got != tc.want+1 {
				t.Errorf("after setReplicas(%d): replicasOf = %d", tc.want+1, got)
			}
		})
	}
}

func TestMainContainer(t *testing.T) {
	svc, err := traderx.LookupService("people-service")
	if err != nil {
		t.Fatal(err)
	}
	containers := func(names ...string) map[string]any {
		var cs []any
		for _, n := range names {
			cs = append(cs, map[string]any{"name": n, "image": "img-" + n})
		}
		return map[string]any{"template": map[string]any{"spec": map[string]any{"containers": cs}}}
	}
	for _, tc := range []struct {
		name      string
		spec      map[string]any
		wantImage string
		wantErr   string
	}{
		{"the service's container", containers("people-service"), "img-people-service", ""},
		{"after a sidecar", containers("proxy", "people-service"), "img-people-service", ""},
		{"missing", containers("proxy"), "", "Deployment a has no container people-service"},
		{"no containers", map[string]any{}, "", "Deployment a has no container people-service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := obj("Deployment", "a", tc.spec)
			c, err := mainContainer(d, svc)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c["image"]; got != tc.wantImage {
				t.Errorf("image = %v, want %s", got, tc.wantImage)
			}
			// Edits change the Deployment in place.
			c["image"] = "changed"
			again, _ := mainContainer(d, svc)
			if again["image"] != "changed" {
				t.Error("an edit of the container did not reach the Deployment")
			}
		})
	}
}
