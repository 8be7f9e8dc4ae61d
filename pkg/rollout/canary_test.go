package rollout_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finos/traderx-plugins/pkg/analysis"
	"github.com/finos/traderx-plugins/pkg/rollout"
)

func TestCanarySteps(t *testing.T) {
	for _, tc := range []struct {
		n        int32
		percents []int
		want     []rollout.CanaryStep
	}{
		{1, []int{25, 50, 100}, []rollout.CanaryStep{{25, 1, 1}, {50, 1, 1}, {100, 1, 0}}},
		{3, []int{25, 50, 100}, []rollout.CanaryStep{{25, 1, 2}, {50, 2, 1}, {100, 3, 0}}},
		{4, []int{10, 75, 100}, []rollout.CanaryStep{{10, 1, 3}, {75, 3, 1}, {100, 4, 0}}},
		{10, []int{100}, []rollout.CanaryStep{{100, 10, 0}}},
	} {
		got := rollout.CanarySteps(tc.n, tc.percents)
		if len(got) != len(tc.want) {
			t.Fatalf("%d × %v: %+v", tc.n, tc.percents, got)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%d × %v step %d: %+v, want %+v", tc.n, tc.percents, i+1, got[i], tc.want[i])
			}
		}
	}
	for in, ok := range map[string]bool{"25,50,100": true, "100": true, " 10%, 100% ": true, "50,25,100": false, "25,50": false, "0,100": false, "x": false, "": false, "50,50,100": false} {
		if _, err := rollout.ParseSteps(in); (err == nil) != ok {
			t.Errorf("ParseSteps(%q): %v", in, err)
		}
	}
}

func canaryOptions(w *liveWorld, version string) rollout.CanaryOptions {
	return rollout.CanaryOptions{Service: service(w.t, "trade-service"), Version: version, Cluster: w, StepDuration: 30 * time.Second,
		AnalysisInterval: 10 * time.Second, Standby: time.Minute, PollInterval: time.Second, Timeout: 20 * time.Second}
}

// A canary steps through 25, 50, 100, selects green alone, records a
// release, retires blue and leaves no run behind; each step's edits are
// new unit revisions.
func TestCanaryFull(t *testing.T) {
	r, w, clock, dev := blueGreenSetup(t)
	var steps []string
	r.Log = logMatching(&steps, "canary trade-service")
	res, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, canaryOptions(w, "2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if res.From != "blue" || res.To != "green" || res.Release == nil || res.Release.Description != "canary trade-service 2.0.0" || len(res.Steps) != 3 {
		t.Fatalf("result: %+v release %+v", res, res.Release)
	}
	for _, want := range []string{"step 1/3 (25%): green runs 1 replica(s), blue 1; the Service selects both (50% of the endpoints new)",
		"Service trade-service: ready endpoints blue 1, green 1", "step 1 passed", "step 2 passed",
		"step 3/3 (100%): green runs 1 replica(s) and is selected alone", "step 3 passed"} {
		if !containsLine(steps, want) {
			t.Errorf("log lacks %q:\n%s", want, strings.Join(steps, "\n"))
		}
	}
	st := state(t, r, dev, w)
	if st.Active != "green" || st.Canary != nil || st.Colour("green").Version != "2.0.0" || st.Colour("blue").Replicas != 0 ||
		st.LiveSelector != "green" || st.LiveSplit != "blue 0, green 1" {
		t.Errorf("after the canary: %+v", st)
	}
	var slept time.Duration
	for _, d := range clock.sleeps {
		slept += d
	}
	if slept < 3*30*time.Second+time.Minute {
		t.Errorf("3 steps of 30s and a 1m standby slept only %s", slept)
	}
	// The same version again is a no-op; the next one goes back to blue.
	if res, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, canaryOptions(w, "2.0.0")); err != nil || !res.NothingToDo {
		t.Errorf("same version again: %+v %v", res, err)
	}
	first := res.Release.Number
	if res, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, canaryOptions(w, "2.1.0")); err != nil || res.To != "blue" || res.Release.Number != first+1 {
		t.Errorf("next canary: %+v %v", res, err)
	}
}

// A new colour that starts crash-looping at step 2 is aborted
// automatically: blue back and selected alone, green at zero, no release.
func TestCanaryCrashLoopAtStep2Aborts(t *testing.T) {
	r, w, _, dev := blueGreenSetup(t)
	// Step 1 reads the cluster 3 times to converge and 3 times in its
	// analysis (30s every 10s), step 2 3 times to converge: the green pod
	// crash-loops from the 2nd analysis sample of step 2.
	w.crashAfter = 10
	o := canaryOptions(w, "2.0.0")
	o.ExtraPodLabels = map[string]string{simLabel: "crashloop"}
	releases := func() int {
		sp, err := r.Hub.GetSpaceBySlug(context.Background(), "traderx-dev")
		if err != nil {
			t.Fatal(err)
		}
		tags, err := r.Hub.ListTags(context.Background(), sp.SpaceID, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(tags)
	}
	before := releases()
	_, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, o)
	var ce *rollout.CanaryError
	if !errors.As(err, &ce) || ce.Step != 2 || ce.Percent != 50 || !ce.Aborted || !strings.Contains(ce.Reason, "CrashLoopBackOff") {
		t.Fatalf("want an aborted step 2, got %v", err)
	}
	st := state(t, r, dev, w)
	if st.Active != "blue" || st.LiveSelector != "blue" || st.LiveSplit != "blue 1, green 0" || st.Colour("green").Replicas != 0 ||
		st.Colour("blue").Replicas != 1 || st.Canary != nil {
		t.Errorf("after the abort: %+v", st)
	}
	if n := releases(); n != before {
		t.Errorf("an aborted canary recorded a release: %d → %d", before, n)
	}
}

// An analysis query that turns false aborts the step it turns false in;
// a Prometheus that stops answering fails after the inconclusive limit.
func TestCanaryAnalysisQuery(t *testing.T) {
	var queries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := "1"
		if queries.Add(1) > 4 { // steps 1 (3 samples) and the first of step 2 pass
			v = "0"
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"colour":"green"},"value":[1,"` + v + `"]}]}}`))
	}))
	defer srv.Close()
	r, w, _, dev := blueGreenSetup(t)
	o := canaryOptions(w, "2.0.0")
	o.Analysis = analysis.Query{URL: srv.URL, Expr: `probe_success{colour="green"} >= bool 0.99`}
	_, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, o)
	var ce *rollout.CanaryError
	if !errors.As(err, &ce) || ce.Step != 2 || !ce.Aborted || !strings.Contains(ce.Reason, `analysis query is false: {colour="green"}=0`) {
		t.Fatalf("want an aborted step 2 on a false query, got %v", err)
	}
	if st := state(t, r, dev, w); st.LiveSelector != "blue" || st.Colour("green").Replicas != 0 || st.Canary != nil {
		t.Errorf("after the abort: %+v", st)
	}

	srv.Close()
	o.InconclusiveLimit = 2
	_, err = r.Canary(context.Background(), spaceOf(t, r, dev), dev, o)
	if !errors.As(err, &ce) || ce.Step != 1 || !ce.Aborted || !strings.Contains(ce.Reason, "inconclusive 3 times in a row (limit 2)") {
		t.Fatalf("want an abort after 3 inconclusive samples, got %v", err)
	}
}

// An interrupted canary keeps its run: status shows the step, blue-green
// and another version are refused, promote is recorded, and the re-run
// resumes and skips to the last step. An interrupted one is also aborted.
func TestCanaryInterruptResumePromoteAbort(t *testing.T) {
	r, w, clock, dev := blueGreenSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	r.Log = slogCancelOn(ctx, cancel, "step 2 analysis")
	_, err := r.Canary(ctx, spaceOf(t, r, dev), dev, canaryOptions(w, "2.0.0"))
	if err == nil || !strings.Contains(err.Error(), "interrupted at step 2") {
		t.Fatalf("want an interruption at step 2, got %v", err)
	}
	r.Log = nil
	v, err := r.CanaryStatus(context.Background(), spaceOf(t, r, dev), dev, service(t, "trade-service"), w)
	if err != nil {
		t.Fatal(err)
	}
	if run := v.Canary; run == nil || run.Step != 2 || run.Previous != "blue" || v.Active != "blue" || v.Step == nil || *v.Step != (rollout.CanaryStep{Percent: 50, New: 1, Old: 1}) ||
		v.LiveSelector != "" || v.LiveSplit != "blue 1, green 1" || v.TimeLeft != 20*time.Second { // the fake clock slept 10s of the step's 30s
		t.Fatalf("status of the interrupted canary: %+v %+v", v.BlueGreenState, v.Canary)
	}
	var ie *rollout.InputError
	if _, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, canaryOptions(w, "3.0.0")); !errors.As(err, &ie) || !strings.Contains(err.Error(), "cub traderx canary trade-service 2.0.0 dev") {
		t.Errorf("another version during the canary: %v", err)
	}
	if _, err := r.BlueGreen(context.Background(), spaceOf(t, r, dev), dev, bgOptions(w, "3.0.0")); !errors.As(err, &ie) || !strings.Contains(err.Error(), "cub traderx canary abort trade-service dev") {
		t.Errorf("blue-green during the canary: %v", err)
	}
	if _, err := r.CanaryPromote(context.Background(), spaceOf(t, r, dev), dev, service(t, "trade-service")); err != nil {
		t.Fatal(err)
	}
	before := len(clock.sleeps)
	res, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, canaryOptions(w, "2.0.0"))
	if err != nil || !res.Resumed || !res.Promoted || res.Release == nil {
		t.Fatalf("resume with promote: %+v %v", res, err)
	}
	for _, d := range clock.sleeps[before:] {
		if d == 10*time.Second {
			t.Errorf("a promoted canary still analysed a step: slept %v", clock.sleeps[before:])
			break
		}
	}
	if st := state(t, r, dev, w); st.Active != "green" || st.Canary != nil || st.Colour("blue").Replicas != 0 {
		t.Errorf("after the promoted canary: %+v", st)
	}

	// Interrupted again, abort brings the colour that served back.
	ctx, cancel = context.WithCancel(context.Background())
	r.Log = slogCancelOn(ctx, cancel, "step 1 analysis")
	if _, err := r.Canary(ctx, spaceOf(t, r, dev), dev, canaryOptions(w, "2.1.0")); err == nil {
		t.Fatal("want an interruption")
	}
	r.Log = nil
	ab, err := r.CanaryAbort(context.Background(), spaceOf(t, r, dev), dev, rollout.BlueGreenAbortOptions{Service: service(t, "trade-service"), Cluster: w, Timeout: 20 * time.Second})
	if err != nil || ab.Kept != "green" || ab.ScaledDown != "blue" {
		t.Fatalf("abort: %+v %v", ab, err)
	}
	if st := state(t, r, dev, w); st.Active != "green" || st.LiveSelector != "green" || st.Canary != nil || st.Colour("blue").Replicas != 0 || st.Colour("green").Replicas != 1 {
		t.Errorf("after abort: %+v", st)
	}
	if _, err := r.CanaryAbort(context.Background(), spaceOf(t, r, dev), dev, rollout.BlueGreenAbortOptions{Service: service(t, "trade-service"), Cluster: w}); !errors.As(err, &ie) {
		t.Errorf("abort without a canary: %v", err)
	}
}

// A dry run plans the first step's and the finish's edits and writes nothing.
func TestCanaryDryRun(t *testing.T) {
	r, _, _, dev := blueGreenSetup(t)
	res, err := r.Canary(context.Background(), spaceOf(t, r, dev), dev, rollout.CanaryOptions{Service: service(t, "trade-service"), Version: "2.0.0", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ when, unit, after string }{
		{"step 1 (25%)", "trade-service-green-deployment", "image: ghcr.io/finos/traderx/trade-service:2.0.0"},
		{"step 1 (25%)", "trade-service-service", "app: trade-service"},
		{"last step (100%)", "trade-service-service", "color: green"},
		{"after the standby", "trade-service-blue-deployment", "replicas: 0"},
	}
	var got []rollout.CanaryPlanEdit
	for _, e := range res.Plan {
		if e.Changed {
			got = append(got, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("plan: %+v", res.Plan)
	}
	for i, e := range got {
		if e.When != want[i].when || e.Unit != want[i].unit || e.ToRevision != 0 || !strings.Contains(string(e.After), want[i].after) {
			t.Errorf("edit %d: %s %s, want %s %s with %q", i, e.When, e.Unit, want[i].when, want[i].unit, want[i].after)
		}
	}
	if strings.Contains(string(got[1].After), "color:") {
		t.Errorf("step 1's Service still selects a colour:\n%s", got[1].After)
	}
	if st := state(t, r, dev, nil); st.Canary != nil || st.Colour("green").Replicas != 0 {
		t.Errorf("a dry run changed something: %+v", st)
	}
}

// logMatching records the messages that contain marker.
func logMatching(into *[]string, marker string) *slog.Logger {
	return slog.New(recordHandler{into: into, marker: marker, mu: &sync.Mutex{}})
}

type recordHandler struct {
	into   *[]string
	marker string
	mu     *sync.Mutex
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.marker) {
		h.mu.Lock()
		*h.into = append(*h.into, r.Message)
		h.mu.Unlock()
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func containsLine(lines []string, want string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, want) })
}
