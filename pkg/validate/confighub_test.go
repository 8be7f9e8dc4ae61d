package validate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// hub is a ConfigHub stand-in holding an environment's space, reached over HTTP.
type hub struct {
	srv    *confighubtest.Server
	client *confighub.Client
	space  *confighub.Space
	worker *confighubtest.Worker
	target uuid.UUID
	units  map[string]*confighub.Unit
	env    traderx.Environment
}

func newHub(t *testing.T, envName string) *hub {
	t.Helper()
	srv := confighubtest.NewServer()
	t.Cleanup(srv.Close)
	c, err := confighub.New(srv.Credentials(), confighub.WithRetryPolicy(confighub.RetryPolicy{Attempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := traderx.LookupEnvironment(envName)
	return &hub{srv: srv, client: c, env: env, units: map[string]*confighub.Unit{}}
}

func (h *hub) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start creates the environment's space with a connected worker, as an
// operator does with cub space create, cub worker create and cub worker run.
func (h *hub) start(t *testing.T) {
	t.Helper()
	ctx := h.ctx(t)
	slug := h.env.Space(traderx.DefaultProject)
	var err error
	if h.worker, err = h.srv.StartWorker(ctx, slug, "worker", nil, confighubtest.NoopBackend{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.worker.Stop)
	if h.space, err = h.client.GetSpaceBySlug(ctx, slug); err != nil {
		t.Fatal(err)
	}
	if h.target, err = h.worker.TargetID(ctx, h.worker.Targets()[0]); err != nil {
		t.Fatal(err)
	}
}

// install creates the space and every rendered unit except skip, and applies
// them so head = live.
func (h *hub) install(t *testing.T, skip ...string) {
	t.Helper()
	ctx := h.ctx(t)
	var err error
	if h.worker == nil {
		h.start(t)
	}
	units, err := manifests.Render(h.env)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if contains(skip, u.Name) {
			continue
		}
		data, err := manifests.EncodeYAML(u.Objects)
		if err != nil {
			t.Fatal(err)
		}
		cu, err := h.client.CreateUnit(ctx, h.space.SpaceID, confighub.Unit{Slug: u.Name, ToolchainType: confighub.ToolchainKubernetesYAML,
			Data: data, TargetID: h.target}, uuid.Nil, uuid.Nil)
		if err != nil {
			t.Fatalf("create unit %s: %v", u.Name, err)
		}
		h.units[u.Name] = cu
		h.apply(t, u.Name)
	}
}

func (h *hub) apply(t *testing.T, unit string) {
	t.Helper()
	ctx := h.ctx(t)
	u := h.units[unit]
	op, err := h.client.Apply(ctx, h.space.SpaceID, u.UnitID)
	if err != nil {
		t.Fatalf("apply %s: %v", unit, err)
	}
	_, _ = h.client.WaitForOperation(ctx, h.space.SpaceID, u.UnitID, op) // a failed apply is what some tests want
}

// change gives a unit a new head revision without applying it.
func (h *hub) change(t *testing.T, unit string) {
	t.Helper()
	u := h.units[unit]
	_, err := h.client.UpdateUnit(h.ctx(t), h.space.SpaceID, u.UnitID, func(u *confighub.Unit) error {
		u.Data = append(u.Data, []byte("# changed\n")...)
		return nil
	}, confighub.UnitUpdateParams{})
	if err != nil {
		t.Fatal(err)
	}
}

func (h *hub) validate(t *testing.T) *check.Report {
	t.Helper()
	st, err := FetchConfigHub(h.ctx(t), h.client, h.env.Space(traderx.DefaultProject))
	if err != nil {
		t.Fatal(err)
	}
	_, objs := rendered(t, h.env.Name)
	return runWith(t, Input{Env: h.env, Objects: objs, ConfigHub: st})
}

func runWith(t *testing.T, in Input) *check.Report {
	t.Helper()
	r, err := Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// statuses maps "suite name target" to status for the ConfigHub suites.
func confighubChecks(r *check.Report) []check.Check {
	var out []check.Check
	for _, c := range r.Checks {
		if c.Suite == SuiteConfigHubSpace || c.Suite == SuiteConfigHubUnits || c.Suite == SuiteConfigHubSync {
			out = append(out, c)
		}
	}
	return out
}

// refresh runs a dry-run refresh of every unit of the space and waits for it.
func (h *hub) refresh(t *testing.T) {
	t.Helper()
	ctx := h.ctx(t)
	ops, err := h.client.RefreshUnits(ctx, "SpaceID = '"+h.space.SpaceID.String()+"'", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if _, err := h.client.WaitForOperation(ctx, h.space.SpaceID, op.Action.UnitID, op.Action); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfigHubInSync(t *testing.T) {
	h := newHub(t, "dev")
	h.install(t)
	h.refresh(t)
	r := h.validate(t)
	cs := confighubChecks(r)
	units, _ := manifests.Render(h.env)
	// one space check; existence, sync and drift checks per unit
	if want := 1 + 3*len(units); len(cs) != want {
		t.Errorf("%d ConfigHub checks, want %d", len(cs), want)
	}
	for _, c := range cs {
		if c.Status != check.StatusPass {
			t.Errorf("%s %s %s: %s %s", c.Suite, c.Name, c.Target, c.Status, c.Message)
		}
	}
	if got := find(r, SuiteConfigHubSpace, "space-exists", "space/traderx-dev"); len(got) != 1 {
		t.Errorf("space check: %+v", got)
	}
}

func TestConfigHubFindings(t *testing.T) {
	tests := []struct {
		name                 string
		setup                func(t *testing.T, h *hub)
		suite, check, target string
		msg                  string
	}{
		{"unit missing", func(t *testing.T, h *hub) { h.install(t, "trade-feed-service") },
			SuiteConfigHubUnits, "unit-exists", "unit/trade-feed-service", "unit trade-feed-service not found in space traderx-dev"},
		{"head ahead of live", func(t *testing.T, h *hub) { h.install(t); h.change(t, "trade-service-blue-deployment") },
			SuiteConfigHubSync, "live-synced", "unit/trade-service-blue-deployment", "head revision 2, live revision 1: changes not applied"},
		{"never applied", func(t *testing.T, h *hub) {
			h.start(t)
			h.worker.FailApplies("ingress", "admission webhook denied the request", -1)
			h.install(t)
		}, SuiteConfigHubSync, "live-synced", "unit/ingress", "never applied (head revision 1)"},
		{"last apply failed", func(t *testing.T, h *hub) {
			h.install(t)
			h.worker.FailApplies("ingress", "admission webhook denied the request", 1)
			h.apply(t, "ingress")
		}, SuiteConfigHubSync, "live-synced", "unit/ingress", "last apply failed (ApplyFailed)"},
		{"space missing", func(t *testing.T, h *hub) {},
			SuiteConfigHubSpace, "space-exists", "space/traderx-dev", "space traderx-dev not found in ConfigHub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, "dev")
			tt.setup(t, h)
			r := h.validate(t)
			got := find(r, tt.suite, tt.check, tt.target)
			if len(got) != 1 || got[0].Status != check.StatusFail || !strings.Contains(got[0].Message, tt.msg) {
				t.Fatalf("%s %s %s = %+v, want one FAIL containing %q", tt.suite, tt.check, tt.target, got, tt.msg)
			}
			if got[0].Hint == "" {
				t.Error("a failure without a hint")
			}
			var failed []string
			for _, c := range confighubChecks(r) {
				if c.Status == check.StatusFail {
					failed = append(failed, c.Target)
				}
			}
			if len(failed) != 1 {
				t.Errorf("failed ConfigHub checks %v, want only %s", failed, tt.target)
			}
			if r.ExitCode(check.FailOnFail) != check.ExitFailed {
				t.Errorf("exit code %d, want 1", r.ExitCode(check.FailOnFail))
			}
		})
	}
}

// Without the space, unit and sync suites SKIP instead of failing every unit.
func TestConfigHubSpaceMissingSkipsTheRest(t *testing.T) {
	h := newHub(t, "dev")
	r := h.validate(t)
	for _, suite := range []string{SuiteConfigHubUnits, SuiteConfigHubSync} {
		for _, c := range r.Checks {
			if c.Suite == suite && (c.Status != check.StatusSkip || !strings.Contains(c.Message, "space traderx-dev does not exist")) {
				t.Errorf("%s %s: %s %s", c.Suite, c.Target, c.Status, c.Message)
			}
		}
	}
}

// fakeHub serves a fixed unit list and refresh events, for states the
// stand-in does not produce.
type fakeHub struct {
	units     []confighub.ExtendedUnit
	refreshes []confighub.UnitEvent
}

func (f fakeHub) GetSpaceBySlug(_ context.Context, slug string) (*confighub.Space, error) {
	return &confighub.Space{SpaceID: uuid.New(), Slug: slug}, nil
}

func (f fakeHub) ListUnits(context.Context, uuid.UUID, string, ...string) ([]confighub.ExtendedUnit, error) {
	return f.units, nil
}

func (f fakeHub) ListAllUnitEvents(context.Context, string) ([]confighub.UnitEvent, error) {
	return f.refreshes, nil
}

// Drift is judged per unit from its latest refresh: drifted FAILs, a clean
// refresh after the last apply PASSes, and a unit never refreshed or
// refreshed before its last apply is SKIP, saying why — never PASS.
func TestConfigHubDrift(t *testing.T) {
	env, objs := rendered(t, "dev")
	units, _ := manifests.Render(env)
	applied := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	var hub fakeHub
	for _, u := range units {
		eu := confighub.ExtendedUnit{Unit: &confighub.Unit{UnitID: uuid.New(), Slug: u.Name, HeadRevisionNum: 3, LiveRevisionNum: 3},
			LiveRevision: &confighub.Revision{RevisionNum: 3, LiveAt: applied}}
		refresh := confighub.UnitEvent{UnitID: eu.Unit.UnitID, Action: confighub.ActionRefresh, Status: confighub.StatusCompleted,
			Result: confighub.ResultRefreshAndNoDrift, TerminatedAt: applied.Add(time.Minute)}
		switch u.Name {
		case "database-deployment":
			refresh.Result = confighub.ResultRefreshAndDrifted
		case "people-service-deployment":
			refresh.TerminatedAt = applied.Add(-time.Minute)
		case "namespace":
			hub.units = append(hub.units, eu)
			continue
		}
		hub.units = append(hub.units, eu)
		hub.refreshes = append(hub.refreshes, refresh)
	}
	st, err := FetchConfigHub(context.Background(), hub, env.Space("traderx"))
	if err != nil {
		t.Fatal(err)
	}
	r := runWith(t, Input{Env: env, Objects: objs, ConfigHub: st})
	tests := []struct {
		unit   string
		status check.Status
		msg    string
	}{
		{"database-deployment", check.StatusFail, "changed outside ConfigHub (refreshed 2026-12-02T03:01:00Z)"},
		{"people-service-deployment", check.StatusSkip, "older than the last apply"},
		{"namespace", check.StatusSkip, "drift unknown: never refreshed (cub traderx status dev --refresh)"},
		{"web-front-end-angular-deployment", check.StatusPass, "no drift at the last refresh (2026-12-02T03:01:00Z)"},
	}
	for _, tt := range tests {
		got := find(r, SuiteConfigHubSync, "not-drifted", "unit/"+tt.unit)
		if len(got) != 1 || got[0].Status != tt.status || !strings.Contains(got[0].Message, tt.msg) {
			t.Errorf("%s: %+v, want %s %q", tt.unit, got, tt.status, tt.msg)
		}
	}
	if r.Summary.Failed != 1 {
		t.Errorf("%d failures, want 1:\n%s", r.Summary.Failed, bad(r))
	}
}

// Without credentials the three ConfigHub suites SKIP, saying how to log in.
func TestConfigHubWithoutCredentialsSkips(t *testing.T) {
	env, objs := rendered(t, "dev")
	r := runWith(t, Input{Env: env, Objects: objs, ConfigHub: ConfigHubSkipped(NoCredentialsReason)})
	cs := confighubChecks(r)
	if len(cs) != 3 {
		t.Fatalf("%d ConfigHub checks, want one SKIP per suite: %+v", len(cs), cs)
	}
	for _, c := range cs {
		if c.Status != check.StatusSkip || c.Message != "no ConfigHub credentials: set CUB_SERVER and CUB_TOKEN or run cub auth login" {
			t.Errorf("%s: %s %q", c.Suite, c.Status, c.Message)
		}
	}
}

// An unreachable ConfigHub is an error (exit 3 in the command), not a finding.
func TestConfigHubUnreachable(t *testing.T) {
	h := newHub(t, "dev")
	h.srv.Close()
	if _, err := FetchConfigHub(h.ctx(t), h.client, "traderx-dev"); err == nil {
		t.Error("no error from a closed ConfigHub")
	}
}
