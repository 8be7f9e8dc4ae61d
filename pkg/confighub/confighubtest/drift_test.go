package confighubtest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func yamlMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Live objects below are as the API server returns them: defaults filled in,
// quantities canonical, integers as int64.
func TestAdopt(t *testing.T) {
	tests := []struct {
		name, desired, live string
		differs             bool
		merged              string // "" means desired itself
	}{
		{
			name:    "server defaults and status are not drift",
			desired: "metadata: {name: a, creationTimestamp: null}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: c\n        image: i\n",
			live: "metadata: {name: a, uid: u, resourceVersion: '7', creationTimestamp: '2026-01-01T00:00:00Z', annotations: {deployment.kubernetes.io/revision: '1'}}\n" +
				"spec:\n  replicas: 1\n  progressDeadlineSeconds: 600\n  template:\n    spec:\n      restartPolicy: Always\n      containers:\n      - name: c\n        image: i\n        imagePullPolicy: Always\n        terminationMessagePath: /dev/termination-log\n" +
				"status: {replicas: 1}\n",
		},
		{
			name:    "quantities compare by value",
			desired: "resources: {limits: {cpu: 1000m, memory: 1Gi}, requests: {cpu: 0.5, memory: 256Mi}}\n",
			live:    "resources: {limits: {cpu: '1', memory: 1Gi}, requests: {cpu: 500m, memory: 256Mi}}\n",
		},
		{
			name:    "a changed quantity is drift and adopts the live value",
			desired: "resources: {limits: {cpu: 500m}}\n",
			live:    "resources: {limits: {cpu: '1'}}\n",
			differs: true,
			merged:  "resources: {limits: {cpu: '1'}}\n",
		},
		{
			name:    "empty values the server drops are not drift",
			desired: "spec: {resources: {}, tolerations: [], hostname: ''}\n",
			live:    "spec: {dnsPolicy: ClusterFirst}\n",
		},
		{
			name:    "a changed env value and an added variable are drift",
			desired: "containers:\n- name: c\n  env:\n  - {name: A, value: '1'}\n  - {name: B, value: '2'}\n",
			live:    "containers:\n- name: c\n  imagePullPolicy: Always\n  env:\n  - {name: A, value: '1'}\n  - {name: B, value: '3'}\n  - {name: C, value: new}\n",
			differs: true,
			merged:  "containers:\n- name: c\n  env:\n  - {name: A, value: '1'}\n  - {name: B, value: '3'}\n  - {name: C, value: new}\n",
		},
		{
			name:    "a removed element and a removed label are drift",
			desired: "metadata: {labels: {app: a, tier: '1'}}\ncontainers:\n- {name: c, image: i}\n- {name: sidecar, image: s}\n",
			live:    "metadata: {labels: {app: a}}\ncontainers:\n- {name: c, image: i}\n",
			differs: true,
			merged:  "metadata: {labels: {app: a}}\ncontainers:\n- {name: c, image: i}\n",
		},
		{
			name:    "unnamed lists compare by position",
			desired: "ports: [{port: 80, protocol: TCP}]\n",
			live:    "ports: [{port: 80, protocol: TCP, targetPort: 80}]\n",
		},
		{
			name:    "an unnamed list of another length is drift",
			desired: "args: [a]\n",
			live:    "args: [a, b]\n",
			differs: true,
			merged:  "args: [a, b]\n",
		},
		{
			name:    "numbers compare whatever their type",
			desired: "replicas: 2\nratio: 0.5\n",
			live:    "replicas: 3\nratio: 0.5\n",
			differs: true,
			merged:  "replicas: 3\nratio: 0.5\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired := yamlMap(t, tt.desired)
			live := apiNumbers(yamlMap(t, tt.live)).(map[string]any)
			merged, differs := adopt(desired, live, nil)
			if differs != tt.differs {
				t.Errorf("differs = %v, want %v", differs, tt.differs)
			}
			want := desired
			if tt.merged != "" {
				want = yamlMap(t, tt.merged)
			}
			if d := cmp.Diff(normalizeNumbers(want), normalizeNumbers(merged)); d != "" {
				t.Errorf("merged (-want +got):\n%s", d)
			}
		})
	}
}

// apiNumbers turns integral numbers into int64, as the API's JSON decoding
// does (sigs.k8s.io/yaml gives float64).
func apiNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = apiNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = apiNumbers(e)
		}
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	}
	return v
}

// normalizeNumbers makes float64 and int64 of the same value compare equal.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNumbers(e)
		}
		return out
	}
	if f, ok := number(v); ok {
		return f
	}
	return v
}

func TestNormalizeDesiredSecret(t *testing.T) {
	u := &unstructured.Unstructured{Object: yamlMap(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\ndata: {user: YWRtaW4=}\n")}
	got := normalizeDesired(u).Object
	want := yamlMap(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {user: YWRtaW4=, password: aHVudGVyMg==}\n")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if _, ok := u.Object["stringData"]; !ok {
		t.Error("normalizeDesired modified its argument")
	}
}
