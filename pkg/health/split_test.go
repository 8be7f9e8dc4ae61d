package health

import (
	"testing"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

func TestSplitEndpoints(t *testing.T) {
	// canary gives green one pod and makes the Service select both colours.
	canary := func(s *cluster.Snapshot) {
		for _, d := range s.Deployments {
			if d.Name == "trade-service-green" {
				s.Pods = append(s.Pods, readyPod(d, 0))
			}
		}
		for i := range s.Services {
			if s.Services[i].Name == "trade-service" {
				delete(s.Services[i].Spec.Selector, manifests.LabelColour)
			}
		}
		refreshEndpoints(s)
	}
	tests := []struct {
		name   string
		mutate func(*cluster.Snapshot)
		want   map[string]int
		msg    string
		ok     bool
	}{
		{"blue only", func(*cluster.Snapshot) {}, map[string]int{"blue": 3}, "ready endpoints blue 3, green 0", true},
		{"blue only, canary expected", func(*cluster.Snapshot) {}, map[string]int{"blue": 2, "green": 1},
			`the live Service selects colour "blue", not ""; ready endpoints blue 3, green 0, want blue 2, green 1`, false},
		{"both colours", canary, map[string]int{"blue": 3, "green": 1}, "ready endpoints blue 3, green 1", true},
		{"both colours, wrong weights", canary, map[string]int{"blue": 2, "green": 2}, "ready endpoints blue 3, green 1, want blue 2, green 2", false},
		{"Service missing", func(s *cluster.Snapshot) { s.Services = withoutService(s.Services, "trade-service") }, map[string]int{"blue": 3},
			"Service trade-service not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := healthySnapshot(t, "prod")
			tt.mutate(s)
			svc, err := traderx.LookupService("trade-service")
			if err != nil {
				t.Fatal(err)
			}
			msg, ok := SplitEndpoints(s, svc).Matches(svc, tt.want)
			if msg != tt.msg || ok != tt.ok {
				t.Errorf("Matches = %q, %v; want %q, %v", msg, ok, tt.msg, tt.ok)
			}
		})
	}
}
