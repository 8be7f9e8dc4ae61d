package cub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/confighub/confighubtest"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

const (
	applyPathRE = `^/api/space/[^/]+/unit/[^/]+/apply$`
	unitPathRE  = `^/api/space/[^/]+/unit/[^/]+$`
	unitsPathRE = `^/api/space/[^/]+/unit$`
)

// installed returns a harness (no cluster: applies succeed, the gate is
// HEALTHY) with dev installed.
func installed(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, false)
	if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	return h
}

// Faults on the way through ConfigHub are retried (or the apply outcome is
// checked) so the run succeeds without duplicate revisions or operations.
func TestFaultsDuringApplyAreRetried(t *testing.T) {
	cases := []struct {
		name  string
		fault confighubtest.Fault
	}{
		{"500 on apply", confighubtest.Fault{Method: "POST", PathPattern: applyPathRE, Status: 500}},
		{"502 on reading events", confighubtest.Fault{Method: "GET", PathPattern: `^/api/space/[^/]+/unit/[^/]+/unit_event$`, Status: 502, Times: 2}},
		{"429 with Retry-After on apply", confighubtest.Fault{Method: "POST", PathPattern: applyPathRE, Status: 429, RetryAfter: time.Second}},
		{"slow apply past the per-try timeout", confighubtest.Fault{Method: "POST", PathPattern: applyPathRE, Delay: 3 * time.Second}},
		{"connection reset after the apply landed", confighubtest.Fault{Method: "POST", PathPattern: applyPathRE, Reset: true, AfterHandling: true}},
		{"409 on apply", confighubtest.Fault{Method: "POST", PathPattern: applyPathRE, Status: 409}},
		{"500 on the release tag", confighubtest.Fault{Method: "POST", PathPattern: `^/api/unit/tag$`, Status: 500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := installed(t)
			before := h.revisions()
			h.srv.InjectFault(tc.fault)
			start := time.Now()
			r := h.run("", "apply", "dev")
			if r.code != 0 {
				t.Fatalf("apply through %s: %s", tc.name, r)
			}
			if h.srv.PendingFaults() != 0 {
				t.Errorf("the fault was never hit")
			}
			if tc.fault.RetryAfter > 0 && time.Since(start) < tc.fault.RetryAfter {
				t.Errorf("Retry-After not honoured")
			}
			if after := h.revisions(); !mapsEqual(before, after) {
				t.Errorf("revisions changed by an apply")
			}
			for slug, u := range h.units("traderx-dev") {
				if u.LiveRevisionNum != u.HeadRevisionNum {
					t.Errorf("%s not live at head", slug)
				}
				if n := h.operations("traderx-dev", slug); n != 1 {
					t.Errorf("%s: %d operations, want exactly 1 (no duplicate apply)", slug, n)
				}
			}
			if tags := h.tags("traderx-dev"); len(tags) != 1 || tags[0] != "release-1" {
				t.Errorf("tags = %v", tags)
			}
		})
	}
}

// Faults during install are retried without duplicate units or revisions; a
// 409 that did not come from a real conflict is reported clearly.
func TestFaultsDuringInstall(t *testing.T) {
	for _, f := range []confighubtest.Fault{
		{Method: "POST", PathPattern: unitsPathRE, Status: 500, AfterHandling: true},
		{Method: "POST", PathPattern: unitsPathRE, Reset: true, AfterHandling: true},
		{Method: "PATCH", PathPattern: unitPathRE, Status: 502, Times: 2},
		{Method: "GET", PathPattern: `^/api/space$`, Status: 429, RetryAfter: time.Second},
	} {
		h := newHarness(t, false)
		h.srv.InjectFault(f)
		if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
			t.Fatalf("install through %+v: %s", f, r)
		}
		revs := h.revisions()
		if len(revs) != 48 {
			t.Errorf("%+v: %d units, want 48", f, len(revs))
		}
		for k, v := range revs {
			want := int64(1)
			if strings.HasPrefix(k, "traderx-dev/") {
				want = 2
			}
			if v != want {
				t.Errorf("%+v: %s at revision %d, want %d (duplicate revision?)", f, k, v, want)
			}
		}
	}

	h := newHarness(t, false)
	h.srv.InjectFault(confighubtest.Fault{Method: "POST", PathPattern: unitsPathRE, Status: 409})
	r := h.run("", "install", "--envs", "dev")
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 409") || !strings.Contains(r.stderr, "create unit traderx-base/namespace") {
		t.Fatalf("409 on create: %s", r)
	}
	if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install after the 409: %s", r)
	}
}

// An apply that keeps failing in the worker stops its tier after the
// retries; the report names the unit, the cause and the units of the tier
// that were applied (a half-applied tier).
func TestHalfAppliedTierIsReported(t *testing.T) {
	h := installed(t)
	h.workers["traderx-dev"].FailApplies("trade-feed-service", "admission webhook denied the Service", -1)
	r := h.run("", "apply", "dev", "--retries", "2")
	if r.code != 1 {
		t.Fatalf("want exit 1: %s", r)
	}
	for _, want := range []string{
		"apply of trade-feed-service failed (attempt 1 of 3)", "retrying in 50ms", "retrying in 100ms",
		"failed:  unit trade-feed-service (service trade-feed)",
		"cause:   apply of revision 2 applyfailed: admission webhook denied the Service",
		"applied in this tier (half-applied tier): network-policies, database-deployment",
		"resume:  cub traderx apply dev",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if n := h.operations("traderx-dev", "trade-feed-service"); n != 3 {
		t.Errorf("trade-feed-service operations = %d, want 3 (1 + 2 retries)", n)
	}
	if u := h.units("traderx-dev")["account-service-deployment"]; u.LiveRevisionNum != 0 {
		t.Errorf("tier 2 was applied after tier 1 failed")
	}
	if len(h.tags("traderx-dev")) != 0 {
		t.Errorf("release recorded for a failed apply")
	}
	// Fixed: the resume skips what is live.
	h.workers["traderx-dev"].FailApplies("trade-feed-service", "", 0)
	r = h.run("", "apply", "dev", "-v")
	if r.code != 0 || !strings.Contains(r.stderr, "tier 1: skip database-deployment: live at head revision 2") ||

		!strings.Contains(r.stderr, "tier 1: applying trade-feed-service\n") {
		t.Fatalf("resume: %s", r)
	}
}

// A health gate that fails stops the run with exit 1 and the failing checks.
func TestGateFailureNamesUnitAndChecks(t *testing.T) {
	h := installed(t)
	h.gate = rollout.GateFunc(func(_ context.Context, env traderx.Environment, services []string) (*check.Report, error) {
		r := check.NewReport(check.KindHealth, env.Name, env.Namespace())
		for _, s := range services {
			st := check.StatusPass
			msg := "ok"
			if s == "position-service" {
				st, msg = check.StatusFail, "position-service-blue-abc in CrashLoopBackOff (4 restarts)"
			}
			r.Add(check.Check{Suite: "pods", Name: "pods-crashloop", Target: s, Status: st, Message: msg, Hint: "kubectl logs"})
		}
		r.Finalize()
		return r, nil
	})
	r := h.run("", "apply", "dev", "--timeout", "1s")
	if r.code != 1 {
		t.Fatalf("want exit 1: %s", r)
	}
	for _, want := range []string{"stopped at tier 2", "failed:  unit position-service-blue-deployment (service position-service)",
		"check:   FAIL position-service pods-crashloop: position-service-blue-abc in CrashLoopBackOff"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// The gate cannot read the cluster: retried, then exit 3.
	h.gate = rollout.GateFunc(func(context.Context, traderx.Environment, []string) (*check.Report, error) {
		return nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	})
	// Checked before anything changes: exit 3, nothing applied.
	applies := h.srv.CountRequests("POST", applyPathRE)
	r = h.run("", "apply", "dev", "--retries", "1")
	if r.code != 3 || !strings.Contains(r.stderr, "cannot read the cluster the health gates judge (namespace traderx-dev); nothing was changed") {
		t.Fatalf("unreadable cluster: %s", r)
	}
	if n := h.srv.CountRequests("POST", applyPathRE); n != applies {
		t.Errorf("%d applies sent to an environment whose cluster cannot be read", n-applies)
	}
}

// Bad input is one clear line, exit 2 or 3, and nothing changes.
func TestBadInput(t *testing.T) {
	h := installed(t)
	sp := h.space("traderx-dev")
	u := h.units("traderx-dev")["people-service-deployment"]
	before := h.mutations()

	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"unknown env", nil, []string{"apply", "qa"}, 2, `unknown environment "qa"`},
		{"unknown service", nil, []string{"apply", "dev", "--services", "nope"}, 2, `unknown service "nope"`},
		{"missing credentials", map[string]string{"CUB_SERVER": "", "CUB_TOKEN": ""}, []string{"apply", "dev"}, 2,
			"no ConfigHub credentials: set CUB_SERVER and CUB_TOKEN or run `cub auth login`"},
		{"unreachable server", map[string]string{"CUB_SERVER": "http://127.0.0.1:1"}, []string{"apply", "dev"}, 3,
			"cannot reach ConfigHub at http://127.0.0.1:1"},
		{"bad token", map[string]string{"CUB_TOKEN": "wrong-token"}, []string{"status", "dev"}, 3, "rejected the token"},
		{"protected env without a terminal", nil, []string{"apply", "prod"}, 2, "prod is a protected environment: confirmation needed, but stdin is not a terminal; pass --yes"},
		{"not installed", nil, []string{"apply", "staging", "--yes"}, 2, "environment staging is not installed in ConfigHub (space traderx-staging has none of its units)"},
		{"install staging without dev", nil, []string{"install", "--envs", "staging", "--project", "other"}, 2, "cloned from dev, which is not installed"},
		{"bad project", nil, []string{"status", "dev", "--project", "Bad_Name"}, 2, `invalid project "Bad_Name"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			saved := map[string]string{}
			for k, v := range tc.env {
				saved[k] = h.env[k]
				h.env[k] = v
			}
			defer func() {
				for k, v := range saved {
					h.env[k] = v
				}
			}()
			r := h.run("", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want exit %d and %q: %s", tc.code, tc.want, r)
			}
			if lines := strings.Count(r.stderr, "\n"); lines != 1 {
				t.Errorf("want one line on stderr, got %d:\n%s", lines, r.stderr)
			}
			if strings.Contains(r.stderr, h.srv.Token) {
				t.Errorf("the token leaked")
			}
		})
	}
	if m := h.mutations(); m != before {
		t.Errorf("bad input sent %d mutating requests", m-before)
	}

	// Malformed unit data: refused before anything is applied.
	if _, err := h.client.PatchUnit(h.ctx, sp.SpaceID, u.UnitID, map[string]any{"Data": []byte("kind: [unclosed\n")}, confighub.UnitUpdateParams{}); err != nil {
		t.Fatal(err)
	}
	applies := h.srv.CountRequests("POST", applyPathRE)
	r := h.run("", "apply", "dev")
	if r.code != 2 || !strings.Contains(r.stderr, "nothing was applied: unit people-service-deployment revision 3: malformed data") {
		t.Fatalf("malformed data: %s", r)
	}
	if n := h.srv.CountRequests("POST", applyPathRE); n != applies {
		t.Errorf("%d applies sent despite malformed data", n-applies)
	}
}

// --dry-run changes nothing for install and apply.
func TestDryRun(t *testing.T) {
	h := newHarness(t, false)
	before := h.mutations() // the workers' own registration
	r := h.run("", "install", "--dry-run")
	// 96 units, the base space, and the labels of the three environment
	// spaces the workers were started in.
	if r.code != 0 || !strings.Contains(r.stdout, "dry run: 100 changes planned, nothing changed") ||
		!strings.Contains(r.stdout, "label space traderx-prod (Environment, project, role)") ||
		!strings.Contains(r.stdout, "create unit traderx-prod/ingress (clone of traderx-staging/ingress with prod overrides)") {
		t.Fatalf("install --dry-run: %s", r)
	}
	if n := h.mutations() - before; n != 0 {
		t.Fatalf("dry run sent %d mutations", n)
	}
	h.run("", "install", "--envs", "dev")
	m := h.mutations()
	r = h.run("", "apply", "dev", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "dry run: dev: 24 units would be applied") || !strings.Contains(r.stderr, "would apply namespace revision 2") {
		t.Fatalf("apply --dry-run: %s", r)
	}
	if h.mutations() != m {
		t.Fatal("apply --dry-run changed something")
	}
}
