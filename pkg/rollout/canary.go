package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/analysis"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Defaults of CanaryOptions.
const (
	DefaultCanarySteps       = "25,50,100"
	DefaultStepDuration      = 2 * time.Minute
	DefaultAnalysisInterval  = 10 * time.Second
	DefaultInconclusiveLimit = 3
)

// Analyzer is a metric gate asked at every analysis sample of a canary;
// analysis.Query is one. An error wrapping analysis.ErrInconclusive counts
// towards CanaryOptions.InconclusiveLimit, any other fails the step.
type Analyzer interface {
	Evaluate(ctx context.Context) (analysis.Result, error)
}

// CanaryOptions tune Canary. Durations: zero takes the default, negative
// means none.
type CanaryOptions struct {
	// Service is one of the blue-green services (see BlueGreenService).
	Service traderx.Service
	Version string
	// Cluster is read to wait for and judge each step; required unless DryRun.
	Cluster Reader
	// Steps are the new colour's share of the active replica count, in
	// percent, increasing, the last 100 (default 25,50,100). A resumed run
	// keeps the steps it started with.
	Steps []int
	// StepDuration is how long each step is analysed (default 2m), every
	// AnalysisInterval (default 10s).
	StepDuration     time.Duration
	AnalysisInterval time.Duration
	// Analysis, when set, must stay true at every sample.
	Analysis Analyzer
	// InconclusiveLimit is how many inconclusive analyses in a row are
	// tolerated; one more fails the step (default 3; negative: none).
	InconclusiveLimit int
	// Standby is how long the old colour keeps running, unselected, after
	// the last step before it is scaled to zero (default 60s).
	Standby time.Duration
	// Timeout bounds each apply's wait, the colours becoming ready and the
	// endpoints following (default 120s).
	Timeout      time.Duration
	PollInterval time.Duration
	Retries      int
	RetryDelay   time.Duration
	DryRun       bool
	// ExtraPodLabels are added to the new colour's pod template (see
	// BlueGreenOptions.ExtraPodLabels).
	ExtraPodLabels map[string]string
}

func (o *CanaryOptions) defaults() {
	if o.StepDuration == 0 {
		o.StepDuration = DefaultStepDuration
	}
	if o.AnalysisInterval <= 0 {
		o.AnalysisInterval = DefaultAnalysisInterval
	}
	if o.InconclusiveLimit == 0 {
		o.InconclusiveLimit = DefaultInconclusiveLimit
	}
	o.InconclusiveLimit = max(o.InconclusiveLimit, 0)
	if len(o.Steps) == 0 {
		o.Steps, _ = ParseSteps(DefaultCanarySteps)
	}
}

// blueGreen is the options of the colour helpers the canary shares with
// blue-green (waiting, applying, selecting, restoring).
func (o CanaryOptions) blueGreen() BlueGreenOptions {
	bo := BlueGreenOptions{Service: o.Service, Version: o.Version, Cluster: o.Cluster, Standby: o.Standby, Timeout: o.Timeout,
		PollInterval: o.PollInterval, Retries: o.Retries, RetryDelay: o.RetryDelay, ExtraPodLabels: o.ExtraPodLabels}
	bo.defaults()
	return bo
}

// CanaryStep is one step of the plan: the new colour's share of traffic in
// percent and the replicas each colour runs. Below 100 the Service selects
// both colours, so ready endpoints split New:Old; at 100 it selects the new
// colour alone and the old one keeps its replicas for a quick abort.
type CanaryStep struct {
	Percent int   `json:"percent"`
	New     int32 `json:"new"`
	Old     int32 `json:"old"`
}

// Share is the new colour's share of the ready endpoints, in percent.
func (s CanaryStep) Share() int {
	if s.Percent >= 100 {
		return 100
	}
	return int(math.Round(100 * float64(s.New) / float64(s.New+s.Old)))
}

// CanarySteps turns percentages of n replicas into replica counts: the new
// colour gets the percentage rounded up, at least one pod; the old colour
// the rest, also at least one pod while both serve (with one replica a
// step below 100 is therefore one pod each).
func CanarySteps(n int32, percents []int) []CanaryStep {
	var out []CanaryStep
	for _, p := range percents {
		if p >= 100 {
			out = append(out, CanaryStep{Percent: 100, New: n})
			continue
		}
		nw := max(int32(math.Ceil(float64(n)*float64(p)/100)), 1)
		out = append(out, CanaryStep{Percent: p, New: nw, Old: max(n-nw, 1)})
	}
	return out
}

// CanaryPlanEdit is one unit edit of a dry run, with the moment it is made.
type CanaryPlanEdit struct {
	When string `json:"when"`
	EditResult
}

// CanaryResult is the account of a canary.
type CanaryResult struct {
	Environment string       `json:"environment"`
	Service     string       `json:"service"`
	Version     string       `json:"version"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	Replicas    int32        `json:"replicas"`
	Steps       []CanaryStep `json:"steps"`
	Resumed     bool         `json:"resumed,omitempty"`
	NothingToDo bool         `json:"nothingToDo,omitempty"`
	// Promoted is set when `canary promote` skipped remaining steps.
	Promoted bool             `json:"promoted,omitempty"`
	DryRun   bool             `json:"dryRun,omitempty"`
	Plan     []CanaryPlanEdit `json:"plan,omitempty"`
	Release  *Release         `json:"release,omitempty"`
}

// CanaryError is a canary that failed at a step. When Aborted, the old
// colour is back at full replicas and selected alone, the new one at zero.
type CanaryError struct {
	Env, Service, Version, From, To string
	Step, Steps, Percent            int
	Reason                          string
	Aborted                         bool
	// AbortErr is set when the automatic abort failed too.
	AbortErr error
	Err      error
}

func (e *CanaryError) Error() string {
	msg := fmt.Sprintf("%s: canary %s %s (%s → %s) failed at step %d/%d (%d%%): %s", e.Env, e.Service, e.Version, e.From, e.To, e.Step, e.Steps, e.Percent, e.Reason)
	switch {
	case e.Aborted:
		msg += fmt.Sprintf("; aborted: Service %s selects %s alone again, %s scaled to zero; no release recorded", e.Service, e.From, e.To)
	case e.AbortErr != nil:
		msg += fmt.Sprintf("; the automatic abort failed too: %v; finish it with: %s", e.AbortErr, hint.CanaryAbort(e.Service, e.Env))
	}
	return msg
}

func (e *CanaryError) Unwrap() error { return e.Err }

// Sentinels of the analysis loop: another process promoted or ended the run.
var (
	errPromoted = errors.New("promote requested")
	errEnded    = errors.New("the canary was aborted or finished by another command")
)

// Canary moves a blue-green service to a new version by replica weight,
// through ConfigHub: at each step the standby colour's unit gets the new
// image and the step's replicas and is applied and waited for, the Service
// unit's selector drops the colour (so both colours serve), the old
// colour's unit is scaled to the rest, and the endpoints must split as
// planned. Each step is then analysed for StepDuration: the new colour's
// pods ready without restarts, crash loops or pull errors, the split held,
// the Analysis query true. The last step (100%) selects the new colour
// alone. A failure aborts: the old colour back to full replicas and
// selected alone, the new one at zero. After the last step a release
// "canary <service> <version>" is recorded and the old colour is scaled to
// zero after Standby.
//
// The run is recorded on the Service unit's annotations: re-running with
// the same version resumes at the recorded step (the step's edits are
// no-ops when made; its analysis starts over), CanaryAbort restores the old
// colour, CanaryPromote asks for the remaining steps to be skipped.
// sp is the environment's space.
func (r *Rollout) Canary(ctx context.Context, sp *confighub.Space, env traderx.Environment, o CanaryOptions) (*CanaryResult, error) {
	o.defaults()
	svc := o.Service
	if err := eligible(svc); err != nil {
		return nil, err
	}
	if err := ValidateVersion(o.Version); err != nil {
		return nil, err
	}
	if err := checkExtraPodLabels(o.ExtraPodLabels); err != nil {
		return nil, err
	}
	if _, err := ParseSteps(FormatSteps(o.Steps)); err != nil {
		return nil, err
	}
	if !o.DryRun && o.Cluster == nil {
		return nil, errors.New("rollout: a canary needs a cluster reader")
	}
	st, err := r.blueGreenState(ctx, sp, env, svc)
	if err != nil {
		return nil, err
	}
	if run := st.Run; run != nil {
		return nil, inputf("a blue-green of %s to %s is unfinished in %s: finish it with `%s` or `%s` first",
			svc.Name, run.Version, env.Name, r.next(hint.BlueGreen(svc.Name, run.Version, env.Name)), r.next(hint.BlueGreenAbort(svc.Name, env.Name)))
	}
	res := &CanaryResult{Environment: env.Name, Service: svc.Name, Version: o.Version, DryRun: o.DryRun}
	run := st.Canary
	switch {
	case run != nil && run.Version != o.Version:
		return nil, r.refuseDuringCanary(st, env, svc)
	case run != nil && run.Phase == CanaryPhaseAbort:
		return nil, inputf("the canary of %s to %s in %s was interrupted while aborting: finish it with `%s`",
			svc.Name, run.Version, env.Name, r.next(hint.CanaryAbort(svc.Name, env.Name)))
	case run != nil:
		res.Resumed = true
	case st.Colour(st.Active).Image == svc.Image(o.Version):
		res.From, res.To, res.NothingToDo = st.Active, traderx.OtherColour(st.Active), true
		r.log().Info(fmt.Sprintf("%s: %s already serves version %s from %s; nothing to do", env.Name, svc.Name, o.Version, st.Active))
		return res, nil
	default:
		n := st.Colour(st.Active).Replicas
		if n == 0 {
			n = env.ReplicasFor(svc)
		}
		run = &CanaryRun{Previous: st.Active, Version: o.Version, Replicas: n, Steps: o.Steps, Phase: CanaryPhaseSteps, Step: 1,
			Started: r.clock().Now().UTC().Format(time.RFC3339), StepDuration: max(o.StepDuration, 0)}
	}
	res.From, res.To, res.Replicas = run.Previous, traderx.OtherColour(run.Previous), run.Replicas
	res.Steps = CanarySteps(run.Replicas, run.Steps)
	desc := fmt.Sprintf("canary %s %s", svc.Name, o.Version)
	if o.DryRun {
		res.Plan, err = r.canaryPlan(ctx, sp, env, svc, res, desc, o.ExtraPodLabels)
		return res, err
	}
	if _, err := r.user(ctx); err != nil {
		return nil, err
	}
	c := &canary{r: r, env: env, svc: svc, o: o, bo: o.blueGreen(), st: st, run: run, res: res, desc: desc}
	start := r.clock().Now()
	err = c.start(ctx)
	r.record("canary", env.Name, []string{st.ServiceUnit, manifests.DeploymentUnitName(svc, res.From), manifests.DeploymentUnitName(svc, res.To)},
		nil, start, err)
	return res, err
}

// canaryPlan lists the edits of the first step and of the finish, each
// against the unit's head (nothing is written).
func (r *Rollout) canaryPlan(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service, res *CanaryResult, desc string, extra map[string]string) ([]CanaryPlanEdit, error) {
	first := res.Steps[0]
	when := fmt.Sprintf("step 1 (%d%%)", first.Percent)
	plan := []CanaryPlanEdit{{When: when}}
	edits := []Edit{deployEdit(svc, res.To, res.Version, first.New, extra)}
	if first.Percent < 100 {
		plan = append(plan, CanaryPlanEdit{When: when}, CanaryPlanEdit{When: when})
		edits = append(edits, selectBothEdit(svc), scaleEdit(svc, res.From, first.Old))
	}
	plan = append(plan, CanaryPlanEdit{When: "last step (100%)"}, CanaryPlanEdit{When: "after the standby"})
	edits = append(edits, selectorEdit(svc, res.To), scaleEdit(svc, res.From, 0))
	results, err := r.EditUnits(ctx, sp, env, desc, true, edits...)
	for i := range results {
		plan[i].EditResult = results[i]
	}
	return plan[:len(results)], err
}

// selectBothEdit removes the colour from the Service unit's selector, so
// the Service selects the pods of both colours.
func selectBothEdit(svc traderx.Service) Edit {
	return Edit{Unit: manifests.ServiceUnitName(svc), Mutate: func(objs []*unstructured.Unstructured) error {
		s, err := objectOf(objs, "Service")
		if err != nil {
			return err
		}
		unstructured.RemoveNestedField(s.Object, "spec", "selector", manifests.LabelColour)
		return nil
	}}
}

// canary is one run in progress.
type canary struct {
	r    *Rollout
	env  traderx.Environment
	svc  traderx.Service
	o    CanaryOptions
	bo   BlueGreenOptions
	st   *BlueGreenState
	run  *CanaryRun
	res  *CanaryResult
	desc string
}

func (c *canary) logf(format string, args ...any) {
	c.r.log().Info(fmt.Sprintf("%s: canary %s: ", c.env.Name, c.svc.Name) + fmt.Sprintf(format, args...))
}

func (c *canary) start(ctx context.Context) error {
	from, to, n := c.res.From, c.res.To, len(c.res.Steps)
	if c.res.Resumed {
		c.logf("resuming the unfinished canary to %s (%s → %s) at %s", c.o.Version, from, to, c.where())
	} else {
		c.logf("version %s: %s → %s in %d step(s) of %d replica(s): %s%%", c.o.Version, from, to, n, c.res.Replicas, FormatSteps(c.run.Steps))
		if err := c.r.setCanary(ctx, c.st, c.run); err != nil {
			return err
		}
	}
	if c.run.Phase == CanaryPhaseSteps {
		if err := c.steps(ctx); err != nil {
			return err
		}
		rel, err := c.r.RecordRelease(ctx, c.st.sp, c.env, c.desc, &ApplyResult{})
		c.res.Release = rel
		if err != nil {
			return err
		}
		c.run.Phase = CanaryPhaseStandby
		if err := c.r.setCanary(ctx, c.st, c.run); err != nil {
			return err
		}
	}
	c.logf("standby: %s serves %s alone; %s stays up for %s before it is scaled to zero", to, c.o.Version, from, c.bo.Standby)
	if err := c.r.clock().Sleep(ctx, c.bo.Standby); err != nil {
		return fmt.Errorf("interrupted during the standby of %s (the canary to %s succeeded): re-run the command or run `%s` to scale %s to zero: %w",
			from, to, c.r.next(hint.CanaryAbort(c.svc.Name, c.env.Name)), from, err)
	}
	if err := c.r.retire(ctx, c.st, c.env, c.svc, from, c.desc+": retire "+from, c.bo); err != nil {
		return err
	}
	c.logf("done: %s serves %s from %s; %s is at zero", c.svc.Name, c.o.Version, to, from)
	return nil
}

func (c *canary) where() string {
	if c.run.Phase != CanaryPhaseSteps {
		return "phase " + c.run.Phase
	}
	return fmt.Sprintf("step %d/%d", c.run.Step, len(c.res.Steps))
}

// steps runs the steps from the recorded one, each applied and analysed;
// after a promote request the last step is applied without analysis.
func (c *canary) steps(ctx context.Context) error {
	n := len(c.res.Steps)
	for k := c.run.Step; k <= n; k++ {
		s := c.res.Steps[k-1]
		if c.run.Promote != "" {
			c.logf("promote requested (%s): skipping to the last step", c.run.Promote)
			c.res.Promoted = true
			k, s = n, c.res.Steps[n-1]
		}
		c.run.Step, c.run.StepStarted, c.run.Analysis = k, "", ""
		if err := c.r.setCanary(ctx, c.st, c.run); err != nil {
			return err
		}
		err := c.step(ctx, k, s)
		if err == nil && !c.res.Promoted {
			err = c.analyse(ctx, k, s)
		}
		switch {
		case errors.Is(err, errPromoted):
			k-- // the loop moves to the last step
		case err != nil:
			return c.fail(ctx, k, s, err)
		}
	}
	return nil
}

// step applies one step: the new colour first, so capacity never drops,
// then the selector, then the old colour; then the endpoints must split as
// planned.
func (c *canary) step(ctx context.Context, k int, s CanaryStep) error {
	from, to, image := c.res.From, c.res.To, c.svc.Image(c.o.Version)
	desc := fmt.Sprintf("%s: step %d (%d%%)", c.desc, k, s.Percent)
	if s.Percent >= 100 {
		c.logf("step %d/%d (100%%): %s runs %d replica(s) and is selected alone; %s keeps %d unselected", k, len(c.res.Steps), to, s.New, from, c.st.Colour(from).Replicas)
	} else {
		c.logf("step %d/%d (%d%%): %s runs %d replica(s), %s %d; the Service selects both (%d%% of the endpoints new)", k, len(c.res.Steps), s.Percent, to, s.New, from, s.Old, s.Share())
	}
	deploy := deployEdit(c.svc, to, c.o.Version, s.New, c.o.ExtraPodLabels)
	if _, err := c.r.EditUnits(ctx, c.st.sp, c.env, desc+": "+to, false, deploy); err != nil {
		return err
	}
	if err := c.r.applyUnits(ctx, c.st.sp, c.env, c.svc, c.bo, deploy.Unit); err != nil {
		return err
	}
	if err := c.r.waitColour(ctx, c.env, c.svc, to, image, s.New, 0, c.bo); err != nil {
		return err
	}
	if s.Percent >= 100 {
		return c.r.selectColour(ctx, c.st, c.env, c.svc, to, desc+": select "+to, c.bo)
	}
	if _, err := c.r.EditUnits(ctx, c.st.sp, c.env, desc+": select both colours", false, selectBothEdit(c.svc)); err != nil {
		return err
	}
	if err := c.r.applyUnits(ctx, c.st.sp, c.env, c.svc, c.bo, c.st.ServiceUnit); err != nil {
		return err
	}
	if err := c.r.scaleColour(ctx, c.st, c.env, c.svc, from, s.Old, desc+": "+from, c.bo); err != nil {
		return err
	}
	if err := c.r.waitColour(ctx, c.env, c.svc, from, "", s.Old, 0, c.bo); err != nil {
		return err
	}
	var failure error
	err := c.r.poll(ctx, c.env, c.bo, fmt.Sprintf("Service %s endpoints to split %d:%d", c.svc.Name, s.New, s.Old), func(snap *cluster.Snapshot) (string, bool) {
		if fatal, _ := colourProblems(snap, c.env, c.svc, to, "", 0); len(fatal) > 0 {
			failure = fmt.Errorf("%s of %s: %s", to, c.svc.Name, strings.Join(fatal, "; "))
			return "", true
		}
		msg, ok := health.SplitEndpoints(snap, c.svc).Matches(c.svc, c.weights(s))
		if ok {
			c.logf("Service %s: %s", c.svc.Name, msg)
		}
		return msg, ok
	})
	if failure != nil {
		return failure
	}
	return err
}

// weights are the ready endpoints a step must show, by colour.
func (c *canary) weights(s CanaryStep) map[string]int {
	if s.Percent >= 100 {
		return map[string]int{c.res.To: int(s.New)}
	}
	return map[string]int{c.res.To: int(s.New), c.res.From: int(s.Old)}
}

// analyse watches a step for StepDuration. Any problem of the new colour,
// a changed split or a false query fails it; inconclusive queries fail it
// after InconclusiveLimit in a row. A promote request ends it early.
func (c *canary) analyse(ctx context.Context, k int, s CanaryStep) error {
	clock := c.r.clock()
	deadline := clock.Now().Add(max(c.o.StepDuration, 0))
	want := c.weights(s)
	c.run.StepStarted = clock.Now().UTC().Format(time.RFC3339)
	if err := c.r.setCanary(ctx, c.st, c.run); err != nil {
		return err
	}
	c.logf("step %d analysis: %s for %s, every %s", k, c.analysisWhat(), max(c.o.StepDuration, 0), c.o.AnalysisInterval)
	readErrors, inconclusive := 0, 0
	for {
		if wait := min(c.o.AnalysisInterval, deadline.Sub(clock.Now())); wait > 0 {
			if err := clock.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		run, err := c.r.reloadCanary(ctx, c.st)
		switch {
		case err != nil:
			return err
		case run == nil || run.Phase != CanaryPhaseSteps || run.Version != c.o.Version:
			return errEnded
		case run.Promote != "":
			c.run.Promote = run.Promote
			return errPromoted
		}
		snap, err := c.o.Cluster.Snapshot(ctx, c.env.Namespace())
		if err != nil {
			if readErrors++; readErrors > max(c.o.Retries, 1) {
				return &unreachableError{fmt.Errorf("cannot read the cluster during the analysis: %w", err)}
			}
			continue
		}
		readErrors = 0
		fatal, pending := colourProblems(snap, c.env, c.svc, c.res.To, c.svc.Image(c.o.Version), s.New)
		if problems := append(fatal, pending...); len(problems) > 0 {
			return fmt.Errorf("%s: %s", c.res.To, strings.Join(problems, "; "))
		}
		msg, ok := health.SplitEndpoints(snap, c.svc).Matches(c.svc, want)
		if !ok {
			return errors.New(msg)
		}
		verdict := "passing: " + c.res.To + " ready without restarts, " + msg
		if c.o.Analysis != nil {
			res, err := c.o.Analysis.Evaluate(ctx)
			switch {
			case errors.Is(err, analysis.ErrInconclusive):
				if inconclusive++; inconclusive > c.o.InconclusiveLimit {
					return fmt.Errorf("analysis query inconclusive %d times in a row (limit %d): %v", inconclusive, c.o.InconclusiveLimit, err)
				}
				c.r.log().Warn(fmt.Sprintf("%s: canary %s: analysis query inconclusive (%d of %d tolerated): %v", c.env.Name, c.svc.Name, inconclusive, c.o.InconclusiveLimit, err))
				verdict = fmt.Sprintf("inconclusive (%d of %d tolerated)", inconclusive, c.o.InconclusiveLimit)
			case err != nil:
				return fmt.Errorf("analysis query: %w", err)
			case !res.True:
				return fmt.Errorf("analysis query is false: %s", res.Detail)
			default:
				inconclusive = 0
				verdict += ", query true"
				c.r.log().Debug(fmt.Sprintf("%s: canary %s: analysis query true: %s", c.env.Name, c.svc.Name, res.Detail))
			}
		}
		if verdict != c.run.Analysis {
			c.run.Analysis = verdict
			if err := c.r.setCanary(ctx, c.st, c.run); err != nil {
				return err
			}
		}
		if !clock.Now().Before(deadline) {
			c.logf("step %d passed: %s", k, verdict)
			return nil
		}
	}
}

func (c *canary) analysisWhat() string {
	what := c.res.To + " ready without restarts, crash loops or pull errors, the endpoints split as planned"
	if c.o.Analysis != nil {
		what += ", the analysis query true"
	}
	return what
}

// fail aborts after a failed step, unless the run was interrupted or ended
// elsewhere (then the state is left as it is).
func (c *canary) fail(ctx context.Context, k int, s CanaryStep, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: canary %s interrupted at step %d: re-run the same command to resume, or run `%s`: %w",
			c.env.Name, c.svc.Name, k, c.r.next(hint.CanaryAbort(c.svc.Name, c.env.Name)), ctx.Err())
	case errors.Is(err, errEnded):
		return fmt.Errorf("%s: canary %s stopped at step %d: %w; nothing more is changed here (see `%s`)",
			c.env.Name, c.svc.Name, k, err, c.r.next(hint.Status(c.env.Name)))
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	ce := &CanaryError{Env: c.env.Name, Service: c.svc.Name, Version: c.o.Version, From: c.res.From, To: c.res.To,
		Step: k, Steps: len(c.res.Steps), Percent: s.Percent, Reason: err.Error(), Err: err}
	c.r.log().Error(fmt.Sprintf("%s: canary %s: step %d (%d%%) failed: %s", c.env.Name, c.svc.Name, k, s.Percent, err))
	c.r.log().Warn(fmt.Sprintf("%s: canary %s: abort: %s back to %d replica(s) and selected alone, %s to zero", c.env.Name, c.svc.Name, c.res.From, c.res.Replicas, c.res.To))
	if aerr := c.r.restore(ctx, c.st, c.env, c.svc, c.run, fmt.Sprintf("%s: abort (step %d failed)", c.desc, k), c.bo); aerr != nil {
		ce.AbortErr = aerr
		c.r.log().Error(fmt.Sprintf("%s: canary %s: abort failed: %v", c.env.Name, c.svc.Name, aerr))
		return ce
	}
	ce.Aborted = true
	return ce
}

// restore ends a canary on the colour that served before it: back to the
// run's replicas, selected alone, the other colour at zero, no run recorded.
func (r *Rollout) restore(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, run *CanaryRun, desc string, o BlueGreenOptions) error {
	aborting := *run
	aborting.Phase = CanaryPhaseAbort
	if err := r.setCanary(ctx, st, &aborting); err != nil {
		return err
	}
	keep := run.Previous
	if st.Colour(keep).Replicas != run.Replicas {
		if err := r.scaleColour(ctx, st, env, svc, keep, run.Replicas, desc+": scale "+keep+" back", o); err != nil {
			return err
		}
	}
	if err := r.waitColour(ctx, env, svc, keep, "", run.Replicas, 0, o); err != nil {
		return err
	}
	if err := r.converge(ctx, st, env, svc, keep, run.Replicas, desc, o); err != nil {
		return err
	}
	return r.setCanary(ctx, st, nil)
}

// retire scales the colour a finished canary replaced to zero and clears
// the run.
func (r *Rollout) retire(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, colour, desc string, o BlueGreenOptions) error {
	if err := r.scaleColour(ctx, st, env, svc, colour, 0, desc, o); err != nil {
		return err
	}
	if err := r.waitColourGone(ctx, env, svc, colour, o); err != nil {
		r.log().Warn(fmt.Sprintf("%s: %s: %v", env.Name, svc.Name, err))
	}
	return r.setCanary(ctx, st, nil)
}

// refuseDuringCanary keeps blue-green off a service a canary is moving.
func (r *Rollout) refuseDuringCanary(st *BlueGreenState, env traderx.Environment, svc traderx.Service) error {
	if run := st.Canary; run != nil {
		return inputf("a canary of %s to %s (from %s, started %s) is unfinished in %s: resume it with `%s`, or run `%s`",
			svc.Name, run.Version, run.Previous, run.Started, env.Name, r.next(hint.Canary(svc.Name, run.Version, env.Name)), r.next(hint.CanaryAbort(svc.Name, env.Name)))
	}
	return nil
}
