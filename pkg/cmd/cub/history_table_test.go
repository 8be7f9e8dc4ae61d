package cub

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// The history tables: columns two spaces apart, sized to their widest cell.
func TestHistoryTables(t *testing.T) {
	dev, _ := traderx.LookupEnvironment("dev")
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	var buf bytes.Buffer
	err := writeHistory(&buf, "table", dev, []rollout.ReleaseInfo{
		{Number: 2, Time: at, User: "ops@example.com", Description: "set-image trade-service 1.2.0", Changed: []string{"trade-service-blue-deployment"}},
		{Number: 1, Time: at.Add(-time.Hour), Description: "apply dev", Changed: []string{"a", "b", "c", "d"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"RELEASE  TIME                 USER             DESCRIPTION                    UNITS CHANGED\n" +
		"2        2026-12-01 09:30:00  ops@example.com  set-image trade-service 1.2.0  trade-service-blue-deployment\n" +
		"1        2026-12-01 08:30:00  -                apply dev                      a, b, c and 1 more\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}

	buf.Reset()
	err = writeServiceHistory(&buf, "table", dev, "trade-service", []rollout.UnitRevision{
		{Unit: "trade-service-service", Revision: 3, Time: at, Releases: []int{1, 2}, Head: true, Live: true, Description: "apply"},
		{Unit: "trade-service-service", Revision: 2, Time: at, Description: "edit"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want = "" +
		"Revisions of trade-service's units in dev\n" +
		"UNIT                   REVISION  TIME                 RELEASES  STATE      DESCRIPTION\n" +
		"trade-service-service  3         2026-12-01 09:30:00  1,2       head,live  apply\n" +
		"trade-service-service  2         2026-12-01 09:30:00  -         -          edit\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
}
