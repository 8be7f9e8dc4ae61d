package confighubtest

import (
	"strings"
	"testing"
)

const baseYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
      - image: web:v1
        name: web
`

func TestUpgradeData(t *testing.T) {
	theirs := strings.Replace(baseYAML, "web:v1", "web:v2", 1)
	// No local changes: upstream head byte for byte.
	if got := upgradeData([]byte(baseYAML), []byte(baseYAML), []byte(theirs)); string(got) != theirs {
		t.Errorf("no local change: got\n%s", got)
	}
	// Unknown base: upstream head.
	if got := upgradeData(nil, []byte("x: 1"), []byte(theirs)); string(got) != theirs {
		t.Error("nil base")
	}
	// Local replicas + namespace override and an added ConfigMap survive; the image moves.
	ours := strings.Replace(baseYAML, "replicas: 1", "replicas: 3", 1) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"
	ours = strings.Replace(ours, "  name: web\nspec:\n  ports", "  name: web\n  namespace: traderx-dev\nspec:\n  ports", 1)
	got := string(upgradeData([]byte(baseYAML), []byte(ours), []byte(theirs)))
	for _, want := range []string{"image: web:v2", "replicas: 3", "namespace: traderx-dev", "name: extra"} {
		if !strings.Contains(got, want) {
			t.Errorf("merged data lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "web:v1") {
		t.Errorf("old image survived:\n%s", got)
	}
	// Unparsable: upstream head.
	if got := upgradeData([]byte("a: [1"), []byte("b: 2"), []byte(theirs)); string(got) != theirs {
		t.Error("unparsable")
	}
}

func TestMergePatch(t *testing.T) {
	got := mergePatch(map[string]any{"a": 1.0, "b": map[string]any{"c": 2.0, "d": 3.0}},
		map[string]any{"a": nil, "b": map[string]any{"c": nil, "e": 4.0}})
	m := got.(map[string]any)
	if _, ok := m["a"]; ok || len(m["b"].(map[string]any)) != 2 {
		t.Errorf("mergePatch = %v", got)
	}
}
