package cub

import (
	"bytes"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"

	"github.com/finos/traderx-plugins/pkg/rollout"
)

// The progress of a two-tier apply with a warning in between: at a terminal
// the running tier's line is redrawn in place and warnings land above it;
// without one a line per finished tier.
func TestProgressView(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	steps := func(v *progressView, now *time.Time) {
		v.Step(rollout.Step{Name: "tier 0 (namespace)", Done: 0, Total: 1, Note: "applying"})
		*now = now.Add(2 * time.Second)
		v.Step(rollout.Step{Name: "tier 0 (namespace)", Done: 1, Total: 1, Note: "1 applied", End: true})
		v.Step(rollout.Step{Name: "tier 1 (database, reference-data)", Done: 1, Total: 4, Note: "applying"})
		_, _ = v.Write([]byte("[time] WARN: tier 1: applying database-deployment revision 2 again: drift\n"))
		*now = now.Add(3 * time.Second)
		v.Step(rollout.Step{Name: "tier 1 (database, reference-data)", Note: "waiting: database 0/1 ready"})
		*now = now.Add(40 * time.Second)
		v.Step(rollout.Step{Name: "tier 1 (database, reference-data)", Done: 4, Total: 4, Note: "failed: 3 applied, 1 live at head",
			End: true, Failed: true})
	}
	tests := []struct {
		name string
		tty  bool
		want string
	}{
		{"no terminal", false, "" +
			"✓ tier 0 (namespace)  1/1  1 applied  2s\n" +
			"[time] WARN: tier 1: applying database-deployment revision 2 again: drift\n" +
			"✗ tier 1 (database, reference-data)  4/4  failed: 3 applied, 1 live at head  43s\n"},
		{"terminal", true, "" +
			"… tier 0 (namespace)  0/1  applying  0s" +
			"\r" + ansi.EraseEntireLine + "✓ tier 0 (namespace)  1/1  1 applied  2s\n" +
			"… tier 1 (database, reference-data)  1/4  applying  0s" +
			"\r" + ansi.EraseEntireLine + "[time] WARN: tier 1: applying database-deployment revision 2 again: drift\n" +
			"… tier 1 (database, reference-data)  1/4  applying  0s" +
			"\r" + ansi.EraseEntireLine + "… tier 1 (database, reference-data)  1/4  waiting: database 0/…" +
			"\r" + ansi.EraseEntireLine + "✗ tier 1 (database, reference-data)  4/4  failed: 3 applied, 1 live at head  43s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := at
			var buf bytes.Buffer
			v := newProgressView(&buf, tt.tty, 64, func() time.Time { return now }, 0)
			steps(v, &now)
			v.close()
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// An unfinished step stays on screen when the run ends.
func TestProgressViewLeavesTheLastState(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	v := newProgressView(&buf, true, 100, func() time.Time { return now }, 0)
	v.Step(rollout.Step{Name: "space traderx-dev", Done: 3, Total: 24, Note: "4 changes"})
	v.close()
	want := "… space traderx-dev  3/24  4 changes  0s" + "\r" + ansi.EraseEntireLine + "… space traderx-dev  3/24  4 changes  0s\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
