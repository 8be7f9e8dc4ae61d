package rollout

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Annotations a blue-green run keeps on the ConfigHub Service unit (unit
// metadata, not unit data: writing them makes no revision and reaches no
// cluster). They exist while a run is in progress or was interrupted, so a
// re-run resumes and abort knows which colour served before the run.
const (
	BlueGreenPreviousAnnotation = "traderx.finos.org/blue-green-previous"
	BlueGreenVersionAnnotation  = "traderx.finos.org/blue-green-version"
	BlueGreenPhaseAnnotation    = "traderx.finos.org/blue-green-phase"
	BlueGreenStartedAnnotation  = "traderx.finos.org/blue-green-started"
)

// ExtraPodLabelsAnnotation on a Deployment's pod template lists the label
// keys a blue-green added through BlueGreenOptions.ExtraPodLabels, so the
// next run of that colour removes them again.
const ExtraPodLabelsAnnotation = "traderx.finos.org/extra-pod-labels"

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
	Service string
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

// ColourState is one colour of a blue-green service: its unit in ConfigHub
// and, when the cluster was read, its Deployment there.
type ColourState struct {
	Colour   string `json:"colour"`
	Role     string `json:"role"` // active or standby
	Unit     string `json:"unit"`
	Image    string `json:"image"`
	Version  string `json:"version"`
	Replicas int32  `json:"replicas"`
	Head     int64  `json:"headRevision"`
	Live     int64  `json:"liveRevision"`
	// Cluster is nil when the cluster was not read.
	Cluster *ColourLive `json:"cluster,omitempty"`
}

// ColourLive is a colour's Deployment as the cluster has it.
type ColourLive struct {
	Exists    bool   `json:"exists"`
	Image     string `json:"image,omitempty"`
	Replicas  int32  `json:"replicas"`
	Ready     int32  `json:"ready"`
	Available int32  `json:"available"`
}

// BlueGreenRun is an unfinished run recorded on the Service unit.
type BlueGreenRun struct {
	Previous string `json:"previous"`
	Version  string `json:"version"`
	Phase    string `json:"phase"`
	Started  string `json:"started,omitempty"`
}

// BlueGreenState is where a blue-green service stands.
type BlueGreenState struct {
	Environment string        `json:"environment"`
	Space       string        `json:"space"`
	Service     string        `json:"service"`
	ServiceUnit string        `json:"serviceUnit"`
	Active      string        `json:"active"`
	Colours     []ColourState `json:"colours"`
	Run         *BlueGreenRun `json:"run,omitempty"`
	// LiveSelector is the colour the cluster's Service selects and
	// ReadyEndpoints its ready endpoints, when the cluster was read.
	LiveSelector   string `json:"liveSelector,omitempty"`
	ReadyEndpoints int    `json:"readyEndpoints,omitempty"`
	// ClusterError says why the cluster could not be read.
	ClusterError string `json:"clusterError,omitempty"`

	serviceUnit *confighub.Unit
	sp          *confighub.Space
}

// Colour returns the state of one colour.
func (s *BlueGreenState) Colour(c string) ColourState {
	for _, cs := range s.Colours {
		if cs.Colour == c {
			return cs
		}
	}
	return ColourState{Colour: c}
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
	if !svc.BlueGreen {
		var eligible []string
		for _, s := range traderx.Services() {
			if s.BlueGreen {
				eligible = append(eligible, s.Name)
			}
		}
		return svc, inputf("%s does not run as blue and green Deployments; blue-green works for %s", name, strings.Join(eligible, ", "))
	}
	return svc, nil
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
func (r *Rollout) BlueGreen(ctx context.Context, env traderx.Environment, o BlueGreenOptions) (*BlueGreenResult, error) {
	o.defaults()
	svc, err := BlueGreenService(o.Service)
	if err != nil {
		return nil, err
	}
	if err := ValidateVersion(o.Version); err != nil {
		return nil, err
	}
	for k := range o.ExtraPodLabels {
		if k == manifests.LabelApp || k == manifests.LabelColour || k == manifests.LabelVersion {
			return nil, inputf("extra pod label %s would change the colour's selector or version", k)
		}
	}
	if !o.DryRun && o.Cluster == nil {
		return nil, errors.New("rollout: blue-green needs a cluster reader")
	}
	st, err := r.blueGreenState(ctx, env, svc)
	if err != nil {
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
		res.Plan, err = r.EditUnits(ctx, env, desc, true, deploy, selectorEdit(svc, res.To), scaleEdit(svc, res.From, 0))
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
	if _, err := b.r.EditUnits(ctx, b.env, b.desc+": deploy "+to, false, e); err != nil {
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

// BlueGreenAbortOptions tune BlueGreenAbort.
type BlueGreenAbortOptions struct {
	Service      string
	Cluster      Reader
	Timeout      time.Duration
	PollInterval time.Duration
	Retries      int
	RetryDelay   time.Duration
}

// BlueGreenAbortResult says what abort kept.
type BlueGreenAbortResult struct {
	Environment string        `json:"environment"`
	Service     string        `json:"service"`
	Kept        string        `json:"kept"`
	ScaledDown  string        `json:"scaledDown"`
	Run         *BlueGreenRun `json:"run,omitempty"`
	Reason      string        `json:"reason"`
}

// BlueGreenAbort brings a blue-green service to a consistent state: the
// Service on one colour with ready endpoints, the other at zero, no run
// recorded. It keeps the colour that served before an unfinished run (the
// new one once a run passed its soak) when its Deployment is healthy, else
// the other colour when that one is; with neither healthy it keeps the
// preferred one (scaled up if needed) and fails if it does not become ready.
func (r *Rollout) BlueGreenAbort(ctx context.Context, env traderx.Environment, o BlueGreenAbortOptions) (*BlueGreenAbortResult, error) {
	bo := BlueGreenOptions{Service: o.Service, Cluster: o.Cluster, Timeout: o.Timeout, PollInterval: o.PollInterval, Retries: o.Retries, RetryDelay: o.RetryDelay}
	bo.defaults()
	svc, err := BlueGreenService(o.Service)
	if err != nil {
		return nil, err
	}
	if o.Cluster == nil {
		return nil, errors.New("rollout: blue-green abort needs a cluster reader")
	}
	st, err := r.blueGreenState(ctx, env, svc)
	if err != nil {
		return nil, err
	}
	if _, err := r.user(ctx); err != nil {
		return nil, err
	}
	res := &BlueGreenAbortResult{Environment: env.Name, Service: svc.Name, Run: st.Run}
	prefer := st.Active
	switch {
	case st.Run != nil && st.Run.Phase == PhaseStandby || st.Run != nil && st.Run.Phase == PhaseDecommission:
		prefer, res.Reason = traderx.OtherColour(st.Run.Previous), "the unfinished run had passed its soak"
	case st.Run != nil:
		prefer, res.Reason = st.Run.Previous, fmt.Sprintf("%s served before the unfinished run to %s", st.Run.Previous, st.Run.Version)
	default:
		res.Reason = "no run is recorded; the Service unit selects " + prefer
	}
	keep := prefer
	snap, err := o.Cluster.Snapshot(ctx, env.Namespace())
	if err != nil {
		return nil, &unreachableError{err}
	}
	healthy := func(c string) bool {
		cs := st.Colour(c)
		if cs.Replicas == 0 {
			return false
		}
		fatal, pending := colourProblems(snap, env, svc, c, cs.Image, cs.Replicas)
		return len(fatal)+len(pending) == 0
	}
	if !healthy(prefer) && healthy(traderx.OtherColour(prefer)) {
		keep = traderx.OtherColour(prefer)
		res.Reason = fmt.Sprintf("%s is not healthy and %s is", prefer, keep)
	}
	res.Kept, res.ScaledDown = keep, traderx.OtherColour(keep)
	replicas := max(st.Colour(keep).Replicas, st.Colour(res.ScaledDown).Replicas)
	if replicas == 0 {
		replicas = env.ReplicasFor(svc)
	}
	r.log().Info(fmt.Sprintf("%s: blue-green abort %s: keeping %s (%s), %s to zero", env.Name, svc.Name, keep, res.Reason, res.ScaledDown))
	start := r.clock().Now()
	err = r.converge(ctx, st, env, svc, keep, replicas, fmt.Sprintf("blue-green abort %s: keep %s", svc.Name, keep), bo)
	r.record("blue-green-abort", env.Name, []string{st.ServiceUnit, manifests.DeploymentUnitName(svc, keep), manifests.DeploymentUnitName(svc, res.ScaledDown)}, nil, start, err)
	return res, err
}

// BlueGreenStatus reads where a blue-green service stands: from its
// ConfigHub units and, when cluster is not nil, read-only from the cluster.
// A cluster that cannot be read is reported in ClusterError, not failed.
func (r *Rollout) BlueGreenStatus(ctx context.Context, env traderx.Environment, service string, c Reader) (*BlueGreenState, error) {
	svc, err := BlueGreenService(service)
	if err != nil {
		return nil, err
	}
	st, err := r.blueGreenState(ctx, env, svc)
	if err != nil || c == nil {
		return st, err
	}
	snap, err := c.Snapshot(ctx, env.Namespace())
	if err != nil {
		st.ClusterError = err.Error()
		return st, nil
	}
	if s := snap.Service(svc.Name); s != nil {
		st.LiveSelector = s.Spec.Selector[manifests.LabelColour]
		st.ReadyEndpoints = snap.ReadyEndpoints(svc.Name)
	}
	for i := range st.Colours {
		live := &ColourLive{}
		if d := snap.Deployment(svc.DeploymentName(st.Colours[i].Colour)); d != nil {
			live.Exists = true
			if d.Spec.Replicas != nil {
				live.Replicas = *d.Spec.Replicas
			}
			live.Ready, live.Available = d.Status.ReadyReplicas, d.Status.AvailableReplicas
			for _, ct := range d.Spec.Template.Spec.Containers {
				if ct.Name == svc.Name {
					live.Image = ct.Image
				}
			}
		}
		st.Colours[i].Cluster = live
	}
	return st, nil
}

// blueGreenState reads the service's three units from ConfigHub.
func (r *Rollout) blueGreenState(ctx context.Context, env traderx.Environment, svc traderx.Service) (*BlueGreenState, error) {
	sp, err := r.space(ctx, env)
	if err != nil {
		return nil, err
	}
	st := &BlueGreenState{Environment: env.Name, Space: sp.Slug, Service: svc.Name, ServiceUnit: manifests.ServiceUnitName(svc), sp: sp}
	eu, err := r.unitBySlug(ctx, sp, st.ServiceUnit)
	if err != nil {
		return nil, err
	}
	st.serviceUnit = eu.Unit
	objs, err := manifests.Decode(eu.Unit.Data)
	if err != nil {
		return nil, inputf("unit %s/%s: malformed data: %v", sp.Slug, st.ServiceUnit, err)
	}
	s := findKind(objs, "Service")
	if s == nil {
		return nil, inputf("unit %s/%s holds no Service", sp.Slug, st.ServiceUnit)
	}
	st.Active, _, _ = unstructured.NestedString(s.Object, "spec", "selector", manifests.LabelColour)
	if st.Active != traderx.Blue && st.Active != traderx.Green {
		return nil, inputf("unit %s/%s: the Service selects colour %q, not blue or green", sp.Slug, st.ServiceUnit, st.Active)
	}
	if a := eu.Unit.Annotations; a[BlueGreenPreviousAnnotation] != "" {
		st.Run = &BlueGreenRun{Previous: a[BlueGreenPreviousAnnotation], Version: a[BlueGreenVersionAnnotation],
			Phase: a[BlueGreenPhaseAnnotation], Started: a[BlueGreenStartedAnnotation]}
	}
	for _, c := range traderx.Colours() {
		cs := ColourState{Colour: c, Role: "standby", Unit: manifests.DeploymentUnitName(svc, c)}
		if c == st.Active {
			cs.Role = "active"
		}
		du, err := r.unitBySlug(ctx, sp, cs.Unit)
		if err != nil {
			return nil, err
		}
		cs.Head, cs.Live = du.Unit.HeadRevisionNum, du.Unit.LiveRevisionNum
		dobjs, err := manifests.Decode(du.Unit.Data)
		if err != nil {
			return nil, inputf("unit %s/%s: malformed data: %v", sp.Slug, cs.Unit, err)
		}
		d := findKind(dobjs, "Deployment")
		if d == nil {
			return nil, inputf("unit %s/%s holds no Deployment", sp.Slug, cs.Unit)
		}
		cs.Replicas = replicasOf(d)
		cs.Image = containerImage(d, svc.Name)
		if _, tag, ok := strings.Cut(strings.TrimPrefix(cs.Image, traderx.ImageRepository+"/"), ":"); ok {
			cs.Version = tag
		}
		st.Colours = append(st.Colours, cs)
	}
	return st, nil
}

// setRun records (or, with nil, clears) the run on the Service unit's
// annotations.
func (r *Rollout) setRun(ctx context.Context, st *BlueGreenState, run *BlueGreenRun) error {
	ann := map[string]any{BlueGreenPreviousAnnotation: nil, BlueGreenVersionAnnotation: nil, BlueGreenPhaseAnnotation: nil, BlueGreenStartedAnnotation: nil}
	if run != nil {
		ann = map[string]any{BlueGreenPreviousAnnotation: run.Previous, BlueGreenVersionAnnotation: run.Version,
			BlueGreenPhaseAnnotation: run.Phase, BlueGreenStartedAnnotation: run.Started}
	}
	if err := r.annotate(ctx, st, ann); err != nil {
		return err
	}
	st.Run = run
	return nil
}

func (r *Rollout) setPhase(ctx context.Context, st *BlueGreenState, phase string) error {
	if st.Run == nil || st.Run.Phase == phase {
		return nil
	}
	if err := r.annotate(ctx, st, map[string]any{BlueGreenPhaseAnnotation: phase}); err != nil {
		return err
	}
	st.Run.Phase = phase
	return nil
}

func (r *Rollout) annotate(ctx context.Context, st *BlueGreenState, ann map[string]any) error {
	start := r.clock().Now()
	u, err := r.Hub.PatchUnit(ctx, st.sp.SpaceID, st.serviceUnit.UnitID, map[string]any{"Annotations": ann}, confighub.UnitUpdateParams{})
	r.record("annotate-unit", st.Environment, []string{st.Space + "/" + st.ServiceUnit}, nil, start, err)
	if err != nil {
		return fmt.Errorf("record the blue-green run on unit %s/%s: %w", st.Space, st.ServiceUnit, err)
	}
	st.serviceUnit = u
	return nil
}

// converge brings the service to keep: keep's Deployment running (scaled to
// replicas if its unit is at zero) and ready, the Service selecting it with
// only its pods behind it, the other colour at zero, no run recorded.
func (r *Rollout) converge(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, keep string, replicas int32, desc string, o BlueGreenOptions) error {
	drop := traderx.OtherColour(keep)
	if st.Colour(keep).Replicas == 0 {
		if err := r.scaleColour(ctx, st, env, svc, keep, replicas, desc+": scale "+keep+" up", o); err != nil {
			return err
		}
		if err := r.waitColour(ctx, env, svc, keep, "", replicas, 0, o); err != nil {
			return err
		}
	}
	if err := r.selectColour(ctx, st, env, svc, keep, desc+": select "+keep, o); err != nil {
		return err
	}
	if err := r.scaleColour(ctx, st, env, svc, drop, 0, desc+": scale "+drop+" to zero", o); err != nil {
		return err
	}
	if err := r.waitColourGone(ctx, env, svc, drop, o); err != nil {
		r.log().Warn(fmt.Sprintf("%s: %s: %v", env.Name, svc.Name, err))
	}
	return r.setRun(ctx, st, nil)
}

// scaleColour sets a colour's replicas in its unit and applies it.
func (r *Rollout) scaleColour(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, colour string, n int32, desc string, o BlueGreenOptions) error {
	e := scaleEdit(svc, colour, n)
	if _, err := r.EditUnits(ctx, env, desc, false, e); err != nil {
		return err
	}
	for i := range st.Colours {
		if st.Colours[i].Colour == colour {
			st.Colours[i].Replicas = n
		}
	}
	return r.applyUnits(ctx, st.sp, env, svc, o, e.Unit)
}

// selectColour points the Service unit's selector at a colour, applies it
// and waits until the EndpointSlices list only that colour's pods.
func (r *Rollout) selectColour(ctx context.Context, st *BlueGreenState, env traderx.Environment, svc traderx.Service, colour, desc string, o BlueGreenOptions) error {
	if _, err := r.EditUnits(ctx, env, desc, false, selectorEdit(svc, colour)); err != nil {
		return err
	}
	st.Active = colour
	if err := r.applyUnits(ctx, st.sp, env, svc, o, st.ServiceUnit); err != nil {
		return err
	}
	var failure error
	err := r.poll(ctx, env, o, fmt.Sprintf("Service %s endpoints to be only %s pods", svc.Name, colour), func(snap *cluster.Snapshot) (string, bool) {
		if fatal, _ := colourProblems(snap, env, svc, colour, "", 0); len(fatal) > 0 {
			failure = fmt.Errorf("%s of %s: %s", colour, svc.Name, strings.Join(fatal, "; "))
			return "", true
		}
		msg, ok := endpointsOnly(snap, svc, colour)
		if ok {
			r.log().Info(fmt.Sprintf("%s: Service %s: %s", env.Name, svc.Name, msg))
		}
		return msg, ok
	})
	if failure != nil {
		return failure
	}
	return err
}

// applyUnits applies units one by one (skipping those live at head) with
// Apply's retries and lost-answer handling, each waited for.
func (r *Rollout) applyUnits(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service, o BlueGreenOptions, slugs ...string) error {
	ao := o.apply()
	for _, slug := range slugs {
		eu, err := r.unitBySlug(ctx, sp, slug)
		if err != nil {
			return err
		}
		u := eu.Unit
		if u.LiveRevisionNum == u.HeadRevisionNum && u.HeadRevisionNum > 0 {
			r.log().Info(fmt.Sprintf("%s: %s is live at head revision %d", env.Name, slug, u.HeadRevisionNum))
			continue
		}
		if u.TargetID == uuid.Nil {
			return inputf("unit %s has no target (run `%s`)", slug, r.next(hint.Install()))

		}
		p := planned{eu: eu, name: slug, service: svc.Name, tier: traderx.TierOf(svc.Name)}
		if _, _, err := r.applyUnit(ctx, sp, env, p, ao); err != nil {
			if c := cause(err); c != err.Error() {
				return fmt.Errorf("apply of %s failed: %s (%w)", slug, c, err)
			}
			return fmt.Errorf("apply of %s failed: %w", slug, err)
		}
	}
	return nil
}

// waitColour waits until a colour's Deployment has replicas ready pods of
// image (any image when empty) without restarts, crash loops or pull
// errors, and stays so for settle. A crash loop, pull error or restart
// fails at once; not being ready fails after the timeout.
func (r *Rollout) waitColour(ctx context.Context, env traderx.Environment, svc traderx.Service, colour, image string, replicas int32, settle time.Duration, o BlueGreenOptions) error {
	clock := r.clock()
	var since time.Time
	var failure error
	err := r.poll(ctx, env, o, fmt.Sprintf("%s of %s to be ready", colour, svc.Name), func(snap *cluster.Snapshot) (string, bool) {
		fatal, pending := colourProblems(snap, env, svc, colour, image, replicas)
		if len(fatal) > 0 {
			failure = fmt.Errorf("%s of %s: %s", colour, svc.Name, strings.Join(fatal, "; "))
			return "", true
		}
		if len(pending) > 0 {
			since = time.Time{}
			return strings.Join(pending, "; "), false
		}
		now := clock.Now()
		if since.IsZero() {
			since = now
			r.log().Info(fmt.Sprintf("%s: %s of %s: %d/%d pods ready, no restarts", env.Name, colour, svc.Name, replicas, replicas))
		}
		return fmt.Sprintf("%s ready, checking it stays so for %s", colour, settle), now.Sub(since) >= settle
	})
	if failure != nil {
		return failure
	}
	return err
}

// waitColourGone waits until a colour scaled to zero has no pods left.
func (r *Rollout) waitColourGone(ctx context.Context, env traderx.Environment, svc traderx.Service, colour string, o BlueGreenOptions) error {
	return r.poll(ctx, env, o, fmt.Sprintf("%s of %s to scale to zero", colour, svc.Name), func(snap *cluster.Snapshot) (string, bool) {
		d := snap.Deployment(svc.DeploymentName(colour))
		if d == nil {
			return "", true
		}
		n := len(snap.PodsOf(d))
		return fmt.Sprintf("%d pod(s) left", n), n == 0 && d.Status.Replicas == 0
	})
}

// poll re-reads the cluster every PollInterval until cond holds or the
// timeout; read errors are retried up to Retries times in a row.
func (r *Rollout) poll(ctx context.Context, env traderx.Environment, o BlueGreenOptions, what string, cond func(*cluster.Snapshot) (string, bool)) error {
	clock := r.clock()
	deadline := clock.Now().Add(o.Timeout)
	readErrors, last := 0, ""
	for {
		snap, err := o.Cluster.Snapshot(ctx, env.Namespace())
		if err != nil {
			if readErrors++; readErrors > max(o.Retries, 1) || ctx.Err() != nil {
				return &unreachableError{fmt.Errorf("cannot read the cluster while waiting for %s: %w", what, err)}
			}
		} else {
			readErrors = 0
			msg, ok := cond(snap)
			if ok {
				return nil
			}
			if msg != last {
				r.log().Debug(fmt.Sprintf("%s: waiting for %s: %s", env.Name, what, msg))
				last = msg
			}
		}
		if !clock.Now().Before(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %s", o.Timeout, what, last)
		}
		if err := clock.Sleep(ctx, o.PollInterval); err != nil {
			return err
		}
	}
}

// colourProblems judges one colour's Deployment: fatal problems (crash
// loops, pull errors, failed pods, any restart) and pending ones (not
// rolled out, not ready, wrong image, wrong count).
func colourProblems(snap *cluster.Snapshot, env traderx.Environment, svc traderx.Service, colour, image string, replicas int32) (fatal, pending []string) {
	rep := health.Evaluate(snap, env, health.Options{Services: []string{svc.Name}, Colours: map[string]string{svc.Name: colour}})
	for _, c := range rep.Checks {
		if c.Suite != health.SuiteDeployment && c.Suite != health.SuitePods {
			continue
		}
		switch {
		case c.Status == check.StatusFail && slices.Contains([]string{"pods-crashloop", "pods-image-pull", "pods-failed"}, c.Name):
			fatal = append(fatal, c.Name+": "+c.Message)
		case c.Status == check.StatusFail || c.Status == check.StatusWarn && c.Name != "pods-oomkilled" && c.Name != "pods-restarts":
			pending = append(pending, c.Name+": "+c.Message)
		}
	}
	d := snap.Deployment(svc.DeploymentName(colour))
	if d == nil {
		return fatal, pending
	}
	ready := int32(0)
	for _, p := range snap.PodsOf(d) {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount > 0 {
				fatal = append(fatal, fmt.Sprintf("pod %s: container %s restarted %d time(s)", p.Name, cs.Name, cs.RestartCount))
			}
		}
		if image != "" {
			for _, ct := range p.Spec.Containers {
				if ct.Name == svc.Name && ct.Image != image {
					pending = append(pending, fmt.Sprintf("pod %s still runs %s", p.Name, ct.Image))
				}
			}
		}
		if podReady(p) {
			ready++
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if want != replicas {
		pending = append(pending, fmt.Sprintf("Deployment %s wants %d replicas, not %d (unit not applied yet?)", d.Name, want, replicas))
	}
	if ready < replicas || d.Status.Replicas != replicas || d.Status.ObservedGeneration < d.Generation {
		pending = append(pending, fmt.Sprintf("%d/%d pods ready (%d in total)", ready, replicas, d.Status.Replicas))
	}
	return fatal, pending
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// endpointsOnly reports whether the live Service selects colour and its
// EndpointSlices list only that colour's pods, at least one of them ready.
func endpointsOnly(snap *cluster.Snapshot, svc traderx.Service, colour string) (string, bool) {
	s := snap.Service(svc.Name)
	if s == nil {
		return "Service " + svc.Name + " not found", false
	}
	if got := s.Spec.Selector[manifests.LabelColour]; got != colour {
		return fmt.Sprintf("the live Service selects %q", got), false
	}
	pods := map[string]bool{}
	if d := snap.Deployment(svc.DeploymentName(colour)); d != nil {
		for _, p := range snap.PodsOf(d) {
			pods[p.Name] = true
		}
	}
	ready, total := 0, 0
	var foreign []string
	for _, es := range snap.EndpointSlicesOf(svc.Name) {
		for _, ep := range es.Endpoints {
			total++
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || !pods[ep.TargetRef.Name] {
				name := "?"
				if ep.TargetRef != nil {
					name = ep.TargetRef.Name
				}
				foreign = append(foreign, name)
				continue
			}
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				ready++
			}
		}
	}
	switch {
	case len(foreign) > 0:
		sort.Strings(foreign)
		return fmt.Sprintf("endpoints of other pods remain: %s", strings.Join(foreign, ", ")), false
	case ready == 0:
		return fmt.Sprintf("no ready %s endpoint yet (%d listed)", colour, total), false
	}
	return fmt.Sprintf("%d ready endpoint(s), all %s pods", ready, colour), true
}

// deployEdit gives a colour's Deployment the image of version, replicas,
// the version label and the extra pod labels.
func deployEdit(svc traderx.Service, colour, version string, replicas int32, extra map[string]string) Edit {
	return Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d := findKind(objs, "Deployment")
		if d == nil {
			return errors.New("no Deployment in the unit")
		}
		if err := unstructured.SetNestedField(d.Object, int64(replicas), "spec", "replicas"); err != nil {
			return err
		}
		containers, _, err := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		if err != nil {
			return err
		}
		found := false
		for _, c := range containers {
			if m, ok := c.(map[string]any); ok && m["name"] == svc.Name {
				m["image"], found = svc.Image(version), true
			}
		}
		if !found {
			return fmt.Errorf("no container %s in Deployment %s", svc.Name, d.GetName())
		}
		if err := unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			return err
		}
		labels := d.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[manifests.LabelVersion] = version
		d.SetLabels(labels)
		podLabels, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
		podAnn, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "annotations")
		if podLabels == nil {
			podLabels = map[string]string{}
		}
		if podAnn == nil {
			podAnn = map[string]string{}
		}
		for k := range strings.SplitSeq(podAnn[ExtraPodLabelsAnnotation], ",") {
			delete(podLabels, k)
		}
		delete(podAnn, ExtraPodLabelsAnnotation)
		maps.Copy(podLabels, extra)
		if len(extra) > 0 {
			podAnn[ExtraPodLabelsAnnotation] = strings.Join(slices.Sorted(maps.Keys(extra)), ",")
		}
		podLabels[manifests.LabelVersion] = version
		if err := unstructured.SetNestedStringMap(d.Object, podLabels, "spec", "template", "metadata", "labels"); err != nil {
			return err
		}
		if len(podAnn) == 0 {
			unstructured.RemoveNestedField(d.Object, "spec", "template", "metadata", "annotations")
			return nil
		}
		return unstructured.SetNestedStringMap(d.Object, podAnn, "spec", "template", "metadata", "annotations")
	}}
}

func scaleEdit(svc traderx.Service, colour string, n int32) Edit {
	return Edit{Unit: manifests.DeploymentUnitName(svc, colour), Mutate: func(objs []*unstructured.Unstructured) error {
		d := findKind(objs, "Deployment")
		if d == nil {
			return errors.New("no Deployment in the unit")
		}
		return unstructured.SetNestedField(d.Object, int64(n), "spec", "replicas")
	}}
}

func selectorEdit(svc traderx.Service, colour string) Edit {
	return Edit{Unit: manifests.ServiceUnitName(svc), Mutate: func(objs []*unstructured.Unstructured) error {
		s := findKind(objs, "Service")
		if s == nil {
			return errors.New("no Service in the unit")
		}
		return unstructured.SetNestedField(s.Object, colour, "spec", "selector", manifests.LabelColour)
	}}
}

func findKind(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind {
			return o
		}
	}
	return nil
}

// replicasOf reads spec.replicas whatever number type the decoder chose
// (absent means 1, as in Kubernetes).
func replicasOf(d *unstructured.Unstructured) int32 {
	v, found, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas")
	if !found {
		return 1
	}
	switch n := v.(type) {
	case int64:
		return int32(n)
	case int:
		return int32(n)
	case int32:
		return n
	case float64:
		return int32(n)
	}
	return 1
}

func containerImage(d *unstructured.Unstructured, name string) string {
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok && m["name"] == name {
			s, _ := m["image"].(string)
			return s
		}
	}
	return ""
}
