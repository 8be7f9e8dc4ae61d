package rollout

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Annotations a canary keeps on the ConfigHub Service unit while it runs or
// after it was interrupted (unit metadata, as blue-green's: no revision, no
// cluster change). During the canary the Service selects both colours, so
// CanaryPreviousAnnotation is also what tells which colour served before.
const (
	CanaryPreviousAnnotation     = "traderx.finos.org/canary-previous"
	CanaryVersionAnnotation      = "traderx.finos.org/canary-version"
	CanaryReplicasAnnotation     = "traderx.finos.org/canary-replicas"
	CanaryStepsAnnotation        = "traderx.finos.org/canary-steps"
	CanaryStepAnnotation         = "traderx.finos.org/canary-step"
	CanaryPhaseAnnotation        = "traderx.finos.org/canary-phase"
	CanaryStartedAnnotation      = "traderx.finos.org/canary-started"
	CanaryStepStartedAnnotation  = "traderx.finos.org/canary-step-started"
	CanaryStepDurationAnnotation = "traderx.finos.org/canary-step-duration"
	CanaryAnalysisAnnotation     = "traderx.finos.org/canary-analysis"
	CanaryPromoteAnnotation      = "traderx.finos.org/canary-promote"
)

// Phases of a canary run.
const (
	// CanaryPhaseSteps: traffic moves step by step, each analysed.
	CanaryPhaseSteps = "steps"
	// CanaryPhaseStandby: the new colour serves alone and a release is
	// recorded; the old colour waits out the standby.
	CanaryPhaseStandby = "standby"
	// CanaryPhaseAbort: the old colour is being restored.
	CanaryPhaseAbort = "abort"
)

// CanaryRun is an unfinished canary recorded on the Service unit.
type CanaryRun struct {
	Previous string `json:"previous"`
	Version  string `json:"version"`
	// Replicas is the active replica count the weights are taken of and
	// the old colour returns to on abort.
	Replicas int32 `json:"replicas"`
	// Steps are the traffic percentages of the new colour, the last 100.
	Steps []int  `json:"steps"`
	Phase string `json:"phase"`
	// Step is the 1-based step in progress (during CanaryPhaseSteps).
	Step         int           `json:"step"`
	Started      string        `json:"started,omitempty"`
	StepStarted  string        `json:"stepStarted,omitempty"`
	StepDuration time.Duration `json:"stepDuration,omitempty"`
	// Analysis is the last analysis verdict of the step.
	Analysis string `json:"analysis,omitempty"`
	// Promote, when set, says who asked to skip the remaining steps.
	Promote string `json:"promote,omitempty"`
}

var canaryAnnotations = []string{CanaryPreviousAnnotation, CanaryVersionAnnotation, CanaryReplicasAnnotation, CanaryStepsAnnotation,
	CanaryStepAnnotation, CanaryPhaseAnnotation, CanaryStartedAnnotation, CanaryStepStartedAnnotation, CanaryStepDurationAnnotation,
	CanaryAnalysisAnnotation, CanaryPromoteAnnotation}

// canaryRunOf reads a run from the Service unit's annotations (nil when
// none is recorded).
func canaryRunOf(a map[string]string) (*CanaryRun, error) {
	if a[CanaryPreviousAnnotation] == "" {
		return nil, nil
	}
	run := &CanaryRun{Previous: a[CanaryPreviousAnnotation], Version: a[CanaryVersionAnnotation], Phase: a[CanaryPhaseAnnotation],
		Started: a[CanaryStartedAnnotation], StepStarted: a[CanaryStepStartedAnnotation], Analysis: a[CanaryAnalysisAnnotation],
		Promote: a[CanaryPromoteAnnotation]}
	n, err := strconv.ParseInt(a[CanaryReplicasAnnotation], 10, 32)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("annotation %s=%q is not a replica count", CanaryReplicasAnnotation, a[CanaryReplicasAnnotation])
	}
	run.Replicas = int32(n)
	if run.Steps, err = ParseSteps(a[CanaryStepsAnnotation]); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", CanaryStepsAnnotation, err)
	}
	if run.Step, err = strconv.Atoi(a[CanaryStepAnnotation]); err != nil || run.Step < 1 || run.Step > len(run.Steps) {
		return nil, fmt.Errorf("annotation %s=%q is not a step of %s", CanaryStepAnnotation, a[CanaryStepAnnotation], a[CanaryStepsAnnotation])
	}
	if d := a[CanaryStepDurationAnnotation]; d != "" {
		if run.StepDuration, err = time.ParseDuration(d); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", CanaryStepDurationAnnotation, err)
		}
	}
	return run, nil
}

func (run *CanaryRun) annotations() map[string]any {
	ann := map[string]any{}
	for _, k := range canaryAnnotations {
		ann[k] = nil // removes the ones not set below
	}
	if run == nil {
		return ann
	}
	set := func(k, v string) {
		if v != "" {
			ann[k] = v
		}
	}
	set(CanaryPreviousAnnotation, run.Previous)
	set(CanaryVersionAnnotation, run.Version)
	set(CanaryReplicasAnnotation, strconv.Itoa(int(run.Replicas)))
	set(CanaryStepsAnnotation, FormatSteps(run.Steps))
	set(CanaryStepAnnotation, strconv.Itoa(run.Step))
	set(CanaryPhaseAnnotation, run.Phase)
	set(CanaryStartedAnnotation, run.Started)
	set(CanaryStepStartedAnnotation, run.StepStarted)
	if run.StepDuration > 0 {
		set(CanaryStepDurationAnnotation, run.StepDuration.String())
	}
	set(CanaryAnalysisAnnotation, run.Analysis)
	set(CanaryPromoteAnnotation, run.Promote)
	return ann
}

// setCanary records (nil: clears) the canary run on the Service unit.
func (r *Rollout) setCanary(ctx context.Context, st *BlueGreenState, run *CanaryRun) error {
	if err := r.annotate(ctx, st, run.annotations()); err != nil {
		return err
	}
	st.Canary = run
	return nil
}

// reloadCanary re-reads the run from ConfigHub, where `canary promote` and
// `canary abort` of another process leave their requests.
func (r *Rollout) reloadCanary(ctx context.Context, st *BlueGreenState) (*CanaryRun, error) {
	eu, err := r.unitBySlug(ctx, st.sp, st.ServiceUnit)
	if err != nil {
		return nil, err
	}
	st.serviceUnit = eu.Unit
	return canaryRunOf(eu.Unit.Annotations)
}

// ParseSteps reads --steps: increasing percentages of the active replica
// count for the new colour, each 1 to 100, the last 100.
func ParseSteps(s string) ([]int, error) {
	var steps []int
	for f := range strings.SplitSeq(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f), "%")))
		if err != nil || p < 1 || p > 100 {
			return nil, inputf("step %q is not a percentage from 1 to 100", f)
		}
		if len(steps) > 0 && p <= steps[len(steps)-1] {
			return nil, inputf("steps %q must increase", s)
		}
		steps = append(steps, p)
	}
	if len(steps) == 0 || steps[len(steps)-1] != 100 {
		return nil, inputf("steps %q must end at 100 (the new colour serving alone)", s)
	}
	return steps, nil
}

// FormatSteps is the inverse of ParseSteps.
func FormatSteps(steps []int) string {
	s := make([]string, len(steps))
	for i, p := range steps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}
