package cub

import (
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

func TestRestart(t *testing.T) {
	h := installedApplied(t, "dev")
	before, mut := h.revisions(), h.mutations()
	r := h.day2(nil, "", "restart", "dev", "trade-feed", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "+      annotations:") || !strings.Contains(r.stdout, rollout.RestartedAtAnnotation) {
		t.Fatalf("dry run: %s", r)
	}
	h.unchanged("restart --dry-run", before, mut)

	r = h.day2(nil, "", "restart", "dev", "trade-feed")
	if r.code != 0 || !strings.Contains(r.stdout, "trade-feed-deployment revision 2 → 3; applied 1 unit(s)") {
		t.Fatalf("restart: %s", r)
	}
	objs, err := manifests.Decode(h.units("traderx-dev")["trade-feed-deployment"].Data)
	if err != nil {
		t.Fatal(err)
	}
	at := objs[0].Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)[rollout.RestartedAtAnnotation]
	ts, err := time.Parse(time.RFC3339, at.(string))
	if err != nil || time.Since(ts) > time.Minute {
		t.Errorf("restartedAt = %v (%v)", at, err)
	}
}
