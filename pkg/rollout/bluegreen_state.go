package rollout

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
	// Canary is an unfinished canary (see Canary).
	Canary *CanaryRun `json:"canary,omitempty"`
	// LiveSelector is the colour the cluster's Service selects and
	// ReadyEndpoints its ready endpoints, when the cluster was read.
	LiveSelector   string `json:"liveSelector,omitempty"`
	ReadyEndpoints int    `json:"readyEndpoints,omitempty"`
	// LiveSplit is the Service's ready endpoints by colour, such as
	// "blue 2, green 1", when the cluster was read.
	LiveSplit string `json:"liveSplit,omitempty"`
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

// BlueGreenStatus reads where a blue-green service stands: from its
// ConfigHub units and, when cluster is not nil, read-only from the cluster.
// A cluster that cannot be read is reported in ClusterError, not failed.
func (r *Rollout) BlueGreenStatus(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service, c Reader) (*BlueGreenState, error) {
	if err := eligible(svc); err != nil {
		return nil, err
	}
	st, err := r.blueGreenState(ctx, sp, env, svc)
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
		st.LiveSplit = health.SplitEndpoints(snap, svc).String()
	}
	for i := range st.Colours {
		live := &ColourLive{}
		if d := snap.Deployment(svc.DeploymentName(st.Colours[i].Colour)); d != nil {
			live.Exists = true
			live.Replicas = cluster.DesiredReplicas(d)
			live.Ready, live.Available = d.Status.ReadyReplicas, d.Status.AvailableReplicas
			if ct := cluster.MainContainer(d, svc.Name); ct != nil {
				live.Image = ct.Image
			}
		}
		st.Colours[i].Cluster = live
	}
	return st, nil
}

// blueGreenState reads the service's three units from the environment's
// space sp.
func (r *Rollout) blueGreenState(ctx context.Context, sp *confighub.Space, env traderx.Environment, svc traderx.Service) (*BlueGreenState, error) {
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
	s, err := objectOf(objs, "Service")
	if err != nil {
		return nil, inputf("unit %s/%s: %v", sp.Slug, st.ServiceUnit, err)
	}
	st.Active, _, _ = unstructured.NestedString(s.Object, "spec", "selector", manifests.LabelColour)
	if st.Canary, err = canaryRunOf(eu.Unit.Annotations); err != nil {
		return nil, inputf("unit %s/%s: %v; run `%s`", sp.Slug, st.ServiceUnit, err, r.next(hint.CanaryAbort(svc.Name, env.Name)))
	}
	if st.Active == "" && st.Canary != nil {
		// A canary's Service selects both colours; the active one is
		// the colour that served before it.
		st.Active = st.Canary.Previous
	}
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
		d, err := objectOf(dobjs, "Deployment")
		if err != nil {
			return nil, inputf("unit %s/%s: %v", sp.Slug, cs.Unit, err)
		}
		cs.Replicas = replicasOf(d)
		if c, err := mainContainer(d, svc); err == nil {
			cs.Image, _ = c["image"].(string)
		}
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
		return fmt.Errorf("record the run on unit %s/%s: %w", st.Space, st.ServiceUnit, err)
	}
	st.serviceUnit = u
	return nil
}
