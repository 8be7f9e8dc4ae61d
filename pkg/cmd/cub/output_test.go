package cub

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/go-cmp/cmp"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -short ./pkg/cmd/cub -run %s -update to create it)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); refresh with -update if intended:\n%s", path, diff)
	}
}

// fits fails for a line wider than columns on screen.
func fits(t *testing.T, name, out string, columns int) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if w := ansi.StringWidth(l); w > columns {
			t.Errorf("%s: a line takes %d columns, more than %d:\n%s", name, w, columns, l)
		}
	}
}

func devStatus() *rollout.EnvStatus {
	st := &rollout.EnvStatus{Environment: "dev", Space: "traderx-dev"}
	units, err := manifests.Render(traderx.Environments()[0])
	if err != nil {
		panic(err)
	}
	for i, u := range units {
		s := rollout.UnitState{Unit: u.Name, Service: u.Service, Tier: u.Tier, Head: 2, Live: 2, LastApplied: 2,
			Drift: rollout.DriftNone, LastEvent: "Apply Completed", Upstream: "traderx-base/" + u.Name,
			UpstreamRevision: 1, UpstreamHead: 1, InModel: true}
		switch i {
		case 3:
			s.Drift = rollout.DriftDrifted
		case 5:
			s.Head, s.Unapplied = 3, true
		case 7:
			s.Head, s.Live, s.LastApplied, s.Unapplied, s.Drift, s.LastEvent = 1, 0, 0, true, rollout.DriftUnknown, ""
		case 9:
			s.UpstreamHead, s.Behind = 3, 2
		}
		st.Units = append(st.Units, s)
	}
	return st
}

// The human views of status, history, rollback and the apply and install
// summaries. Compact views fit 80 columns; the others 100 except the wide
// status, which is for wide screens.
func TestHumanOutput(t *testing.T) {
	dev, _ := traderx.LookupEnvironment("dev")
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	rels := []rollout.ReleaseInfo{
		{Number: 3, Time: at, User: "ops@example.com", Description: "set-image trade-service 1.2.0", Changed: []string{"trade-service-blue-deployment"}},
		{Number: 2, Time: at.Add(-time.Hour), Description: "apply dev", Changed: []string{"a", "b", "c", "d"}},
		{Number: 1, Time: at.Add(-2 * time.Hour), Description: "apply dev: 24 units"},
	}
	revs := []rollout.UnitRevision{
		{Unit: "trade-service-service", Revision: 3, Time: at, Releases: []int{2, 3}, Head: true, Live: true, Description: "apply"},
		{Unit: "trade-service-service", Revision: 2, Time: at, Description: "edit"},
	}
	rb := &rollout.RollbackResult{Environment: "dev", Target: rels[1], Verdict: check.VerdictHealthy,
		Reason: "103 checks passed, 1 skipped",
		Units: []rollout.RollbackUnit{
			{Unit: "trade-service-blue-deployment", From: 5, To: 4, NewHead: 6, Outcome: "restored", Applied: "applied"},
			{Unit: "trade-service-service", From: 3, To: 3, Outcome: "unchanged"},
		},
		Apply: &rollout.ApplyResult{Release: &rollout.Release{Number: 4, Description: "rollback to 2"}}}
	applied := &rollout.ApplyResult{Environment: "dev", Applied: 20, Skipped: 4, Tiers: make([]rollout.TierResult, 7),
		Release: &rollout.Release{Number: 3, Tag: "release-3"}}
	install := &rollout.InstallResult{Units: 48, Spaces: []string{"traderx-base", "traderx-dev"}, Changes: []rollout.Change{
		{Space: "traderx-dev", Kind: "space"},
		{Space: "traderx-dev", Kind: "unit", Name: "namespace", Detail: "clone of traderx-base/namespace with dev overrides"},
		{Space: "traderx-dev", Kind: "set-target", Name: "namespace", Detail: "dev-cluster"},
	}}
	envs := []traderx.Environment{dev}

	tests := []struct {
		name    string
		columns int
		write   func(*bytes.Buffer) error
	}{
		{"status.table", 80, func(b *bytes.Buffer) error { return writeStatus(b, "table", devStatus()) }},
		{"status.wide", 0, func(b *bytes.Buffer) error { return writeStatus(b, "wide", devStatus()) }},
		{"history.table", 0, func(b *bytes.Buffer) error { return writeHistory(b, "table", dev, rels) }},
		{"history-empty.table", 80, func(b *bytes.Buffer) error { return writeHistory(b, "table", dev, nil) }},
		{"history-service.table", 100, func(b *bytes.Buffer) error {
			return writeServiceHistory(b, "table", dev, "trade-service", revs)
		}},
		{"rollback.table", 80, func(b *bytes.Buffer) error { return writeRollback(b, "table", rb) }},
		{"apply.summary", 100, func(b *bytes.Buffer) error {
			writeApplySummary(b, "dev", applied, 83*time.Second)
			writeApplySummary(b, "dev", &rollout.ApplyResult{Skipped: 24}, time.Second)
			writeApplySummary(b, "dev", &rollout.ApplyResult{DryRun: true, Skipped: 23,
				Tiers: []rollout.TierResult{{Units: []rollout.UnitResult{{Outcome: rollout.UnitPlanned}}}}}, 0)
			return nil
		}},
		{"install.summary", 100, func(b *bytes.Buffer) error {
			writeInstallSummary(b, "traderx", envs, false, install, 14*time.Second)
			writeInstallSummary(b, "acme", envs, false, install, 14*time.Second)
			writeInstallSummary(b, "traderx", envs, false, &rollout.InstallResult{Units: 48, Spaces: install.Spaces}, 0)
			writeInstallSummary(b, "traderx", envs, true, install, 0)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".golden", b.String())
			if tt.columns > 0 {
				fits(t, tt.name, b.String(), tt.columns)
			}
		})
	}
}

// The error texts a failed run ends with: each names its cause once, with
// at most three examples and a count, and the command to type next.
func TestErrorTexts(t *testing.T) {
	prod, _ := traderx.LookupEnvironment("prod")
	dev, _ := traderx.LookupEnvironment("dev")
	svc, _ := traderx.LookupService("trade-service")
	te := &rollout.TierError{Env: "staging", Tier: 2, Services: []string{"account-service", "position-service"},
		Unit: "account-service-deployment", Service: "account-service", Cause: "new pods failed",
		Checks: []check.Check{{Status: check.StatusFail, Target: "account-service", Name: "pods-crashloop",
			Message: "account-service-0: account-service in CrashLoopBackOff (4 restarts)", Hint: "kubectl -n traderx-staging logs account-service-0 --previous"}},
		Applied: []string{"account-service-deployment"}, Resume: "cub traderx apply staging"}
	var checks []check.Check
	for i := range 5 {
		checks = append(checks, check.Check{Suite: "04-replicas", Target: fmt.Sprintf("svc-%d", i), Name: "desired-replicas",
			Message: "1 replica, want 2", Hint: "set spec.replicas to 2"})
	}
	var b strings.Builder
	for _, e := range []struct {
		name string
		err  error
	}{
		{"tier error", te},
		{"refused change", &rollout.RefusedError{Env: "dev", Checks: checks}},
		{"set-image on a blue-green service", rollout.BlueGreenImageError(dev, svc, "traderx")},
		{"set-image on a blue-green service, another project", rollout.BlueGreenImageError(prod, svc, "acme")},
		{"change not healthy", &rollout.ChangeError{Env: "dev", Description: "set-image trade-service 1.2.0",
			Rollback: "cub traderx rollback dev --services trade-service", RollbackAll: "cub traderx rollback dev", Err: te}},
	} {
		fmt.Fprintf(&b, "== %s\n%s\n", e.name, e.err)
	}
	b.WriteString("== tier report\n")
	for _, l := range te.Report() {
		b.WriteString(l + "\n")
	}
	golden(t, "errors.golden", b.String())
}
