package cub

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/rollout"
	"github.com/finos/traderx-plugins/pkg/traderx"
	testcluster "github.com/finos/traderx-plugins/test/cluster"
)

func canaryArgs(version string, extra ...string) []string {
	return append([]string{"canary", bgService, version, "dev", "--step-duration", "2s", "--analysis-interval", "500ms", "--standby", "1s",
		"--timeout", "90s", "--retry-delay", "50ms"}, extra...)
}

// prometheus answers /api/v1/query with a vector of one sample, 1 for
// the first trueFor queries and 0 after.
func prometheus(t *testing.T, trueFor int32) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") == "" {
			http.Error(w, `{"status":"error","errorType":"bad_data","error":"no query"}`, http.StatusBadRequest)
			return
		}
		v := "1"
		if n.Add(1) > trueFor {
			v = "0"
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"probe"},"value":[1700000000,"` + v + `"]}]}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// A canary moves reference-data blue → green through ConfigHub in two steps
// with an analysis query that stays true: green serves alone, blue at zero,
// release "canary reference-data 1.2.3". The next canary's query turns false
// at its second step: it aborts, green serves alone again, exit 1, no release.
func TestCanaryOnControlPlane(t *testing.T) {
	h, ro := bgSetup(t)
	srv, queries := prometheus(t, 1000)
	r := h.run("", canaryArgs("1.2.3", "--steps", "50,100", "--prometheus", srv.URL, "--analysis-query", "probe_success >= bool 0.99")...)
	if r.code != 0 || !strings.Contains(r.stdout, "dev: reference-data serves 1.2.3 from green (1 replicas), in 2 step(s); blue is at zero; release 1 recorded") {
		t.Fatalf("canary: %s", r)
	}
	for _, want := range []string{"step 1/2 (50%): green runs 1 replica(s), blue 1; the Service selects both", "ready endpoints blue 1, green 1",
		"step 1 passed", "step 2/2 (100%): green runs 1 replica(s) and is selected alone", "step 2 passed", "standby: green serves 1.2.3 alone"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if queries.Load() < 4 {
		t.Errorf("the analysis query was asked %d times", queries.Load())
	}
	waitBG(t, h, ro, "green", 1)
	if rel := h.releaseTag("traderx-dev", "release-1"); rel.Annotations["description"] != "canary reference-data 1.2.3" {
		t.Errorf("release description %q", rel.Annotations["description"])
	}
	if a := h.units("traderx-dev")["reference-data-service"].Annotations; len(a) != 0 {
		t.Errorf("run annotations left on the Service unit: %v", a)
	}
	if r := h.run("", "canary", "status", bgService, "dev"); r.code != 0 || !strings.Contains(r.stdout, "canary: none recorded") {
		t.Errorf("status after the canary: %s", r)
	}

	srv, _ = prometheus(t, 3)
	r = h.run("", canaryArgs("1.2.4", "--prometheus", srv.URL, "--analysis-query", "probe_success >= bool 0.99")...)
	if r.code != 1 || !strings.Contains(r.stderr, "analysis query is false: {job=\"probe\"}=0") ||
		!strings.Contains(r.stderr, "aborted: Service reference-data selects green alone again, blue scaled to zero; no release recorded") {
		t.Fatalf("want an automatic abort on the false query: %s", r)
	}
	waitBG(t, h, ro, "green", 1)
	if tags := h.tags("traderx-dev"); len(tags) != 1 {
		t.Errorf("an aborted canary recorded a release: %v", tags)
	}
}

// A new colour that crash-loops (the kwok stage starts 3-7s after the pod
// runs, so within the first two steps) is aborted automatically: blue
// selected alone with its endpoints, green at zero, exit 1 with the reason.
func TestCanaryCrashLoopAbortsOnControlPlane(t *testing.T) {
	h, ro := bgSetup(t)
	r := h.run("", canaryArgs("9.9.9", "--step-duration", "4s", "--pod-label", testcluster.SimulationLabel+"="+testcluster.SimCrashLoop)...)
	if r.code != 1 {
		t.Fatalf("want exit 1: %s", r)
	}
	for _, want := range []string{"failed at step", "CrashLoopBackOff", "aborted: Service reference-data selects blue alone again, green scaled to zero"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	waitBG(t, h, ro, "blue", 1)
	if tags := h.tags("traderx-dev"); len(tags) != 0 {
		t.Errorf("an aborted canary recorded a release: %v", tags)
	}
	if a := h.units("traderx-dev")["reference-data-service"].Annotations; len(a) != 0 {
		t.Errorf("run annotations left after the abort: %v", a)
	}
}

// A canary interrupted in its second step leaves both colours serving and
// its run recorded: status shows it, the same command resumes and finishes
// it.
func TestCanaryInterruptedOnControlPlane(t *testing.T) {
	h, ro := bgSetup(t)
	dev, _ := traderx.LookupEnvironment("dev")
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	ro2 := &rollout.Rollout{Hub: h.client, Log: slog.New(cancelOn{cancel: cancel, marker: "step 2 analysis"})}
	svc, _ := traderx.LookupService(bgService)
	_, err := ro2.Canary(ctx, h.space("traderx-dev"), dev, rollout.CanaryOptions{Service: svc, Version: "2.0.0", Cluster: SnapshotReader{Client: ro},
		StepDuration: time.Minute, AnalysisInterval: time.Second, PollInterval: 300 * time.Millisecond, RetryDelay: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "interrupted at step 2") {
		t.Fatalf("want an interruption at step 2, got %v", err)
	}
	s, err := cluster.Take(h.ctx, ro, "traderx-dev")
	if err != nil {
		t.Fatal(err)
	}
	if sel, ok := s.Service(bgService).Spec.Selector["color"]; ok {
		t.Errorf("interrupted mid-canary, the Service selects %s only", sel)
	}
	r := h.run("", "canary", "status", bgService, "dev")
	for _, want := range []string{"canary: to 2.0.0 from blue", "step:      2/3 (50%): green 1 replica(s), blue 1, both selected", "live:      ready endpoints blue 1, green 1",
		"resume with `cub traderx canary reference-data 2.0.0 dev`"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q: %s", want, r)
		}
	}
	r = h.run("", canaryArgs("2.0.0")...)
	if r.code != 0 || !strings.Contains(r.stderr, "resuming the unfinished canary to 2.0.0 (blue → green) at step 2/3") ||
		!strings.Contains(r.stdout, "serves 2.0.0 from green") {
		t.Fatalf("resume: %s", r)
	}
	waitBG(t, h, ro, "green", 1)

	// Interrupted again, `canary abort` brings green back alone.
	ctx, cancel = context.WithCancel(h.ctx)
	defer cancel()
	ro2.Log = slog.New(cancelOn{cancel: cancel, marker: "step 1 analysis"})
	if _, err := ro2.Canary(ctx, h.space("traderx-dev"), dev, rollout.CanaryOptions{Service: svc, Version: "2.0.1", Cluster: SnapshotReader{Client: ro},
		StepDuration: time.Minute, AnalysisInterval: time.Second, PollInterval: 300 * time.Millisecond, RetryDelay: 50 * time.Millisecond}); err == nil {
		t.Fatal("want an interruption at step 1")
	}
	r = h.run("", "canary", "abort", bgService, "dev", "--retry-delay", "50ms")
	if r.code != 0 || !strings.Contains(r.stdout, "reference-data serves from green, blue is at zero (green served before the canary to 2.0.1)") {
		t.Fatalf("abort: %s", r)
	}
	waitBG(t, h, ro, "green", 1)
}

// Input errors exit 2 before anything changes; a dry run prints the plan
// and diffs and changes nothing; production needs --yes.
func TestCanaryInputAndDryRun(t *testing.T) {
	h := newHarness(t, false)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"canary", "account-service", "1.0.0", "dev"}, "blue-green works for reference-data, position-service, trade-service"},
		{[]string{"canary", "trade-service", "1.0.0", "dev", "--steps", "50,25"}, "--steps: steps \"50,25\" must increase"},
		{[]string{"canary", "trade-service", "1.0.0", "dev", "--steps", "25,50"}, "must end at 100"},
		{[]string{"canary", "trade-service", "1.0.0", "dev", "--analysis-query", "up"}, "--analysis-query and --prometheus go together"},
		{[]string{"canary", "abort", "trade-service", "dev", "--timeout", "0s"}, "--timeout must be positive"},
	} {
		if r := h.run("", tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want exit 2 with %q: %s", tc.args, tc.want, r)
		}
	}
	if r := h.run("", "install"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	if r := h.run("", "canary", "trade-service", "1.0.0", "prod"); r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Errorf("prod without --yes: %s", r)
	}
	if r := h.run("", "canary", "promote", "trade-service", "dev"); r.code != 2 || !strings.Contains(r.stderr, "no canary of trade-service is recorded in dev") {
		t.Errorf("promote without a canary: %s", r)
	}
	mut := h.mutations()
	r := h.run("", "canary", "trade-service", "1.0.0", "prod", "--dry-run")
	if r.code != 0 || h.mutations() != mut {
		t.Fatalf("dry run: %s (%d mutations)", r, h.mutations()-mut)
	}
	for _, want := range []string{"dry run: canary trade-service 1.0.0 in prod: blue → green, 3 replica(s); nothing changed",
		"step 1 (25%): green 1, blue 2, the Service selects both (33% of the endpoints green); analysed for 2m0s",
		"step 2 (50%): green 2, blue 1", "step 3 (100%): green 3, selected alone",
		"+++ trade-service-green-deployment (step 1 (25%))", "+        image: ghcr.io/finos/traderx/trade-service:1.0.0",
		"-    color: blue", "+++ trade-service-service (last step (100%))", "+    color: green", "+++ trade-service-blue-deployment (after the standby)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.stdout)
		}
	}
}
