package diff

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const base = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: trade-service
spec:
  replicas: 2
  template:
    spec:
      containers:
      - image: ghcr.io/finos/traderx/trade-service:1.0
        name: trade-service
`

func TestFields(t *testing.T) {
	changed := strings.Replace(strings.Replace(base, ":1.0", ":1.1", 1), "replicas: 2", "replicas: 3", 1)
	extra := changed + "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: x\n"
	tests := []struct {
		name     string
		from, to string
		want     []Change
	}{
		{"equal", base, base, nil},
		{"fields", base, changed, []Change{
			{Object: "Deployment/trade-service", Field: "spec.replicas", From: float64(2), To: float64(3)},
			{Object: "Deployment/trade-service", Field: "spec.template.spec.containers[0].image", From: "ghcr.io/finos/traderx/trade-service:1.0", To: "ghcr.io/finos/traderx/trade-service:1.1"},
		}},
		{"added object", changed, extra, []Change{{Object: "Service/x", To: "added"}}},
		{"removed object", extra, changed, []Change{{Object: "Service/x", From: "removed"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fields([]byte(tt.from), []byte(tt.to))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Fields([]byte("a: [b"), []byte(base)); err == nil {
		t.Error("malformed data accepted")
	}
}

func TestUnified(t *testing.T) {
	changed := strings.Replace(base, ":1.0", ":1.1", 1)
	out, err := Unified("dev", "staging", []byte(base), []byte(changed), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--- dev", "+++ staging", "-      - image: ghcr.io/finos/traderx/trade-service:1.0", "+      - image: ghcr.io/finos/traderx/trade-service:1.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without asking")
	}
	coloured, _ := Unified("a", "b", []byte(base), []byte(changed), true)
	if !strings.Contains(coloured, "\x1b[32m+") || !strings.Contains(coloured, "\x1b[31m-") {
		t.Errorf("no colour:\n%q", coloured)
	}
	if same, _ := Unified("a", "b", []byte(base), []byte(base), false); same != "" {
		t.Errorf("equal texts give %q", same)
	}
}
