package rollout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Phases of a blue-green run, in order.
const (
	PhaseDeploy       = "deploy"
	PhaseValidate     = "validate"
	PhaseSwitch       = "switch"
	PhaseSoak         = "soak"
	PhaseRollback     = "rollback"
	PhaseStandby      = "standby"
	PhaseDecommission = "decommission"
)

// Defaults of BlueGreenOptions.
const (
	DefaultSoak         = 5 * time.Minute
	DefaultSoakInterval = 30 * time.Second
	DefaultStandby      = 60 * time.Second
)

// Reader reads one namespace of the cluster, read-only.
type Reader interface {
	Snapshot(ctx context.Context, namespace string) (*cluster.Snapshot, error)
}

// BlueGreenOptions tune BlueGreen. Durations: zero takes the default,
// negative means none.
type BlueGreenOptions struct {
	// Service is one of the blue-green services (see BlueGreenService).
	Service traderx.Service
	Version string
	// Cluster is read to wait for and judge the colours; required unless DryRun.
	Cluster Reader
	// Prober, when set, probes the service's HTTP health endpoint through the
	// Service right after the switch (the endpoints are verified to be only
	// the new colour's pods by then); a failed probe rolls back.
	Prober health.Prober
	// Timeout bounds each apply's wait, the new colour becoming ready and
	// the endpoints following a selector change (default 120s).
	Timeout time.Duration
	// PollInterval is how often the cluster is re-read (default 2s).
	PollInterval time.Duration
	// Settle is how long the new colour must stay valid before traffic
	// moves (default 5s).
	Settle time.Duration
	// Soak is how long the new colour is watched after the switch (default
	// 5m), sampled every SoakInterval (default 30s).
	Soak         time.Duration
	SoakInterval time.Duration
	// Standby is how long the old colour keeps running after a successful
	// soak before it is scaled to zero (default 60s).
	Standby    time.Duration
	Retries    int
	RetryDelay time.Duration
	DryRun     bool
	// ExtraPodLabels are added to the new colour's pod template. A test and
	// simulation aid: the local control plane crash-loops pods labelled
	// sim.traderx.finos.org/state=crashloop, which is how a failing soak is
	// produced without a broken image. Keys added by a previous run are
	// removed from that colour first.
	ExtraPodLabels map[string]string
}

func (o *BlueGreenOptions) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
		if *d < 0 {
			*d = 0
		}
	}
	def(&o.Timeout, DefaultTimeout)
	def(&o.PollInterval, DefaultPollInterval)
	def(&o.Settle, DefaultSettle)
	def(&o.Soak, DefaultSoak)
	def(&o.SoakInterval, DefaultSoakInterval)
	def(&o.Standby, DefaultStandby)
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.SoakInterval == 0 {
		o.SoakInterval = DefaultSoakInterval
	}
}

func (o BlueGreenOptions) apply() ApplyOptions {
	a := ApplyOptions{Retries: o.Retries, RetryDelay: o.RetryDelay, Timeout: o.Timeout}
	a.defaults()
	return a
}

// BlueGreenResult is the account of a blue-green run.
type BlueGreenResult struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Version     string `json:"version"`
	From        string `json:"from"`
	To          string `json:"to"`
	Replicas    int32  `json:"replicas"`
	// Resumed is set when the run continued an interrupted one.
	Resumed bool `json:"resumed,omitempty"`
	// NothingToDo is set when the version already serves.
	NothingToDo bool `json:"nothingToDo,omitempty"`
	DryRun      bool `json:"dryRun,omitempty"`
	// Plan holds the unit edits in order (with Before/After in a dry run).
	Plan    []EditResult `json:"plan,omitempty"`
	Release *Release     `json:"release,omitempty"`
}

// BlueGreenError is a blue-green run that failed in a phase. When
// RolledBack, the Service selects the old colour again and the new colour
// is at zero.
type BlueGreenError struct {
	Env, Service, Version, From, To string
	Phase                           string
	Reason                          string
	RolledBack                      bool
	// RollbackErr is set when the automatic rollback failed too.
	RollbackErr error
	Err         error
}

func (e *BlueGreenError) Error() string {
	msg := fmt.Sprintf("%s: blue-green %s %s (%s → %s) failed in phase %s: %s", e.Env, e.Service, e.Version, e.From, e.To, e.Phase, e.Reason)
	switch {
	case e.RolledBack:
		msg += fmt.Sprintf("; rolled back: Service %s selects %s again, %s scaled to zero", e.Service, e.From, e.To)
	case e.RollbackErr != nil:
		msg += fmt.Sprintf("; the automatic rollback failed too: %v; bring it to a consistent state with: %s", e.RollbackErr, hint.BlueGreenAbort(e.Service, e.Env))
	}
	return msg
}

func (e *BlueGreenError) Unwrap() error { return e.Err }

// versionPattern is a container image tag that is also a label value.
var versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// BlueGreenService looks up a service and refuses one that does not run as
// two colours, naming the ones that do.
func BlueGreenService(name string) (traderx.Service, error) {
	svc, err := traderx.LookupService(name)
	if err != nil {
		return svc, &InputError{Err: err}
	}
	return svc, eligible(svc)
}

// eligible refuses a service that does not run as two colours, naming the
// ones that do.
func eligible(svc traderx.Service) error {
	if svc.BlueGreen {
		return nil
	}
	var names []string
	for _, s := range traderx.Services() {
		if s.BlueGreen {
			names = append(names, s.Name)
		}
	}
	return inputf("%s does not run as blue and green Deployments; blue-green works for %s", svc.Name, strings.Join(names, ", "))
}

// ValidateVersion checks an image tag usable as a version label.
func ValidateVersion(v string) error {
	if !versionPattern.MatchString(v) || len(validation.IsValidLabelValue(v)) > 0 {
		return inputf("version %q is not a valid image tag (letters, digits, '.', '_', '-', at most 63 characters, starting and ending with a letter or digit)", v)
	}
	return nil
}

// BlueGreen switches a blue-green service to a new version through
// ConfigHub: (1) the standby colour's Deployment unit gets the new image and
// the active colour's replicas and is applied and waited for; (2) its pods
// must be ready, unrestarted and free of crash loops and pull errors for
// Settle; (3) the Service unit's selector moves to the new colour and is
// applied, and the EndpointSlices must list only new-colour pods; (4) the
// new colour is watched for Soak; (5) a failure in 1–4 rolls back: the
// selector returns to the old colour, the new one is scaled to zero; (6)
// after a successful soak a release is recorded, the old colour stays up
// for Standby and is then scaled to zero through its unit.
//
// Every change is a unit edit plus an apply through ConfigHub; the cluster
// is only read. The run is recorded on the Service unit's annotations, so
// an interrupted run resumes when re-run with the same version (each phase
// is idempotent) or is brought to a consistent state by BlueGreenAbort.
// sp is the environment's space.
func (r *Rollout) BlueGreen(ctx context.Context, sp *confighub.Space, env traderx.Environment, o BlueGreenOptions) (*BlueGreenResult, error) {
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
	if !o.DryRun && o.Cluster == nil {
		return nil, errors.New("rollout: blue-green needs a cluster reader")
	}
	st, err := r.blueGreenState(ctx, sp, env, svc)
	if err != nil {
		return nil, err
	}
	if err := r.refuseDuringCanary(st, env, svc); err != nil {
		return nil, err
	}
	res := &BlueGreenResult{Environment: env.Name, Service: svc.Name, Version: o.Version, DryRun: o.DryRun}
	res.From, res.To = st.Active, traderx.OtherColour(st.Active)
	phase := PhaseDeploy
	if run := st.Run; run != nil {
		if run.Version != o.Version {
			return nil, inputf("a blue-green of %s to version %s (from %s, started %s) is unfinished in %s: resume it with `%s`, or run `%s`",
				svc.Name, run.Version, run.Previous, run.Started, env.Name, r.next(hint.BlueGreen(svc.Name, run.Version, env.Name)), r.next(hint.BlueGreenAbort(svc.Name, env.Name)))
		}
		if run.Phase == PhaseRollback {
			return nil, inputf("the blue-green of %s to %s in %s was interrupted while rolling back: finish it with `%s`",
				svc.Name, run.Version, env.Name, r.next(hint.BlueGreenAbort(svc.Name, env.Name)))
		}
		res.From, res.To, res.Resumed, phase = run.Previous, traderx.OtherColour(run.Previous), true, run.Phase
	} else if st.Colour(res.From).Image == svc.Image(o.Version) {
		res.NothingToDo = true
		r.log().Info(fmt.Sprintf("%s: %s already serves version %s from %s; nothing to do", env.Name, svc.Name, o.Version, res.From))
		return res, nil
	}
	res.Replicas = st.Colour(res.From).Replicas
	if res.Replicas == 0 {
		res.Replicas = st.Colour(res.To).Replicas
	}
	if res.Replicas == 0 {
		res.Replicas = env.ReplicasFor(svc)
	}
	desc := fmt.Sprintf("blue-green %s %s: %s → %s", svc.Name, o.Version, res.From, res.To)
	deploy := deployEdit(svc, res.To, o.Version, res.Replicas, o.ExtraPodLabels)
	if o.DryRun {
		res.Plan, err = r.EditUnits(ctx, sp, env, desc, true, deploy, selectorEdit(svc, res.To), scaleEdit(svc, res.From, 0))
		return res, err
	}
	if _, err := r.user(ctx); err != nil {
		return nil, err
	}
	b := &blueGreen{r: r, env: env, svc: svc, o: o, st: st, res: res, desc: desc}
	start := r.clock().Now()
	err = b.run(ctx, phase, deploy)
	r.record("blue-green", env.Name, []string{st.ServiceUnit, manifests.DeploymentUnitName(svc, res.From), manifests.DeploymentUnitName(svc, res.To)},
		nil, start, err)
	return res, err
}

// blueGreen is one run in progress.
type blueGreen struct {
	r    *Rollout
	env  traderx.Environment
	svc  traderx.Service
	o    BlueGreenOptions
	st   *BlueGreenState
	res  *BlueGreenResult
	desc string
}

func (b *blueGreen) logf(format string, args ...any) {
	b.r.log().Info(fmt.Sprintf("%s: blue-green %s: ", b.env.Name, b.svc.Name) + fmt.Sprintf(format, args...))
}

func (b *blueGreen) run(ctx context.Context, phase string, deploy Edit) error {
	from, to := b.res.From, b.res.To
	if b.res.Resumed {
		b.logf("resuming the unfinished run to %s (%s → %s) at phase %s", b.o.Version, from, to, phase)
	} else {
		b.logf("version %s: %s → %s, %d replica(s)", b.o.Version, from, to, b.res.Replicas)
		if err := b.r.setRun(ctx, b.st, &BlueGreenRun{Previous: from, Version: b.o.Version, Phase: PhaseDeploy,
			Started: b.r.clock().Now().UTC().Format(time.RFC3339)}); err != nil {
			return err
		}
	}
	switched := phase == PhaseStandby || phase == PhaseDecommission
	if !switched {
		for _, step := range []struct {
			phase string
			fn    func(context.Context) error
		}{
			{PhaseDeploy, func(ctx context.Context) error { return b.deploy(ctx, deploy) }},
			{PhaseValidate, b.validate},
			{PhaseSwitch, b.switchTraffic},
			{PhaseSoak, b.soak},
		} {
			if err := b.r.setPhase(ctx, b.st, step.phase); err != nil {
				return err
			}
			if err := step.fn(ctx); err != nil {
				return b.fail(ctx, step.phase, err)
			}
		}
		rel, err := b.r.RecordRelease(ctx, b.st.sp, b.env, b.desc, &ApplyResult{})
		b.res.Release = rel
		if err != nil {
			return err
		}
		if err := b.r.setPhase(ctx, b.st, PhaseStandby); err != nil {
			return err
		}
	}
	standby := b.o.Standby
	if phase == PhaseDecommission {
		standby = 0
	}
	b.logf("phase 6/6 standby: %s serves %s; %s stays up for %s before it is scaled to zero", to, b.o.Version, from, standby)
	if err := b.r.clock().Sleep(ctx, standby); err != nil {
		return fmt.Errorf("interrupted during the standby of %s (the switch to %s succeeded): re-run the command or run `%s` to scale %s to zero: %w",
			from, to, b.r.next(hint.BlueGreenAbort(b.svc.Name, b.env.Name)), from, err)
	}
	if err := b.r.setPhase(ctx, b.st, PhaseDecommission); err != nil {
		return err
	}
	b.logf("decommission: scaling %s to zero through unit %s", from, manifests.DeploymentUnitName(b.svc, from))
	if err := b.r.scaleColour(ctx, b.st, b.env, b.svc, from, 0, b.desc+": decommission "+from, b.o); err != nil {
		return err
	}
	if err := b.r.waitColourGone(ctx, b.env, b.svc, from, b.o); err != nil {
		b.r.log().Warn(fmt.Sprintf("%s: %s: %v", b.env.Name, b.svc.Name, err))
	}
	if err := b.r.setRun(ctx, b.st, nil); err != nil {
		return err
	}
	b.logf("done: %s serves %s from %s; %s is at zero", b.svc.Name, b.o.Version, to, from)
	return nil
}

// fail rolls back after a failed phase, unless the run was interrupted
// (then the state is left for a re-run or abort).
func (b *blueGreen) fail(ctx context.Context, phase string, err error) error {
	be := &BlueGreenError{Env: b.env.Name, Service: b.svc.Name, Version: b.o.Version, From: b.res.From, To: b.res.To,
		Phase: phase, Reason: err.Error(), Err: err}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: blue-green %s interrupted in phase %s: re-run the same command to resume, or run `%s`: %w",
			b.env.Name, b.svc.Name, phase, b.r.next(hint.BlueGreenAbort(b.svc.Name, b.env.Name)), ctx.Err())
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	b.r.log().Error(fmt.Sprintf("%s: blue-green %s: %s failed: %s", b.env.Name, b.svc.Name, phase, err))
	b.r.log().Warn(fmt.Sprintf("%s: blue-green %s: phase 5/6 rollback: Service back to %s, %s to zero", b.env.Name, b.svc.Name, b.res.From, b.res.To))
	_ = b.r.setPhase(ctx, b.st, PhaseRollback)
	if rerr := b.r.converge(ctx, b.st, b.env, b.svc, b.res.From, b.res.Replicas, fmt.Sprintf("%s: rollback (%s failed)", b.desc, phase), b.o); rerr != nil {
		be.RollbackErr = rerr
		b.r.log().Error(fmt.Sprintf("%s: blue-green %s: rollback failed: %v", b.env.Name, b.svc.Name, rerr))
		return be
	}
	be.RolledBack = true
	b.r.log().Warn(fmt.Sprintf("%s: blue-green %s: rolled back: %s serves again, %s is at zero; reason: %s failed: %s", b.env.Name, b.svc.Name, b.res.From, b.res.To, phase, err))
	return be
}

func (b *blueGreen) deploy(ctx context.Context, e Edit) error {
	to := b.res.To
	b.logf("phase 1/6 deploy: %s gets %s with %d replica(s) (unit %s)", to, b.svc.Image(b.o.Version), b.res.Replicas, e.Unit)
	if _, err := b.r.EditUnits(ctx, b.st.sp, b.env, b.desc+": deploy "+to, false, e); err != nil {
		return err
	}
	if err := b.r.applyUnits(ctx, b.st.sp, b.env, b.svc, b.o, e.Unit); err != nil {
		return err
	}
	return b.r.waitColour(ctx, b.env, b.svc, to, b.svc.Image(b.o.Version), b.res.Replicas, 0, b.o)
}

func (b *blueGreen) validate(ctx context.Context) error {
	b.logf("phase 2/6 validate: %s must stay ready, without restarts, crash loops or pull errors for %s", b.res.To, b.o.Settle)
	return b.r.waitColour(ctx, b.env, b.svc, b.res.To, b.svc.Image(b.o.Version), b.res.Replicas, b.o.Settle, b.o)
}

func (b *blueGreen) switchTraffic(ctx context.Context) error {
	to := b.res.To
	b.logf("phase 3/6 switch: Service %s selects %s (unit %s)", b.svc.Name, to, b.st.ServiceUnit)
	if err := b.r.selectColour(ctx, b.st, b.env, b.svc, to, b.desc+": switch to "+to, b.o); err != nil {
		return err
	}
	if b.o.Prober == nil {
		return nil
	}
	if b.svc.HealthPath == "" {
		b.logf("probe skipped: %s has no HTTP health endpoint", b.svc.Name)
		return nil
	}
	var err error
	for attempt := 0; attempt <= max(b.o.Retries, 2); attempt++ {
		if err = b.o.Prober.Get(ctx, b.env.Namespace(), b.svc.Name, b.svc.Port, b.svc.HealthPath); err == nil {
			b.logf("probe: GET %s:%d%s answered through the Service (only %s pods behind it)", b.svc.Name, b.svc.Port, b.svc.HealthPath, to)
			return nil
		}
		if serr := b.r.clock().Sleep(ctx, b.o.PollInterval); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("HTTP probe GET %s:%d%s through the Service failed: %w", b.svc.Name, b.svc.Port, b.svc.HealthPath, err)
}

func (b *blueGreen) soak(ctx context.Context) error {
	to := b.res.To
	if b.o.Soak <= 0 {
		b.logf("phase 4/6 soak: skipped (--soak 0)")
		return nil
	}
	b.logf("phase 4/6 soak: watching %s for %s, every %s", to, b.o.Soak, b.o.SoakInterval)
	clock := b.r.clock()
	deadline := clock.Now().Add(b.o.Soak)
	readErrors := 0
	for {
		wait := min(b.o.SoakInterval, deadline.Sub(clock.Now()))
		if wait > 0 {
			if err := clock.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		snap, err := b.o.Cluster.Snapshot(ctx, b.env.Namespace())
		if err != nil {
			if readErrors++; readErrors > max(b.o.Retries, 1) {
				return fmt.Errorf("cannot read the cluster during the soak: %w", &unreachableError{err})
			}
			continue
		}
		readErrors = 0
		fatal, pending := colourProblems(snap, b.env, b.svc, to, b.svc.Image(b.o.Version), b.res.Replicas)
		problems := fatal
		if len(problems) == 0 {
			problems = pending
		}
		if s := snap.Service(b.svc.Name); s != nil && s.Spec.Selector[manifests.LabelColour] != to {
			problems = append(problems, fmt.Sprintf("Service %s selects %q, not %s", b.svc.Name, s.Spec.Selector[manifests.LabelColour], to))
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s failed %s into the soak: %s", to, b.o.Soak-deadline.Sub(clock.Now()).Round(time.Second), strings.Join(problems, "; "))
		}
		if !clock.Now().Before(deadline) {
			b.logf("soak passed: %s stayed ready without restarts for %s", to, b.o.Soak)
			return nil
		}
	}
}
