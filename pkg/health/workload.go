package health

import (
	"fmt"
	"sort"
	"strings"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Workload is the verdict on one Deployment of a service: one colour of a
// blue-green service, or the Deployment of any other. Callers that change a
// Deployment (a blue-green switch, a day-2 change) judge it from this value
// instead of from check names.
type Workload struct {
	Service    string
	Deployment string
	// Found is false when the Deployment does not exist; the counts and Pods
	// are then zero.
	Found bool
	// Want is spec.replicas (absent means 1), Total status.replicas, Ready
	// the ready pods not being deleted.
	Want, Total, Ready int32
	// RolledOut is set when the controller has observed the latest spec.
	RolledOut bool
	// Checks are the deployment and pods checks health reports for this
	// Deployment (none while the namespace is missing or not Active), in
	// report order; Stuck and Pending read them.
	Checks []check.Check
	// Pods are the Deployment's pods not being deleted.
	Pods []Pod
}

// Pod is one pod of a Workload.
type Pod struct {
	Name string
	// Image is the image of the service's container ("" when the pod has none).
	Image string
	Ready bool
	// Restarts are the containers that restarted, in status order.
	Restarts []Restart
}

// Restart is a container that restarted Count times.
type Restart struct {
	Container string
	Count     int32
}

// JudgeDeployment judges the service's Deployment of colour ("" for a
// service that is not blue-green) in a snapshot, whichever colour the
// Service selects.
func JudgeDeployment(s *cluster.Snapshot, env traderx.Environment, svc traderx.Service, colour string, o Options) *Workload {
	o = o.withDefaults(s)
	w := &Workload{Service: svc.Name, Deployment: svc.DeploymentName(colour)}
	if s.NamespaceActive() {
		e := evaluator{s: s, env: env, o: o, r: check.NewReport(check.KindHealth, env.Name, s.Namespace)}
		e.deployment(svc, w.Deployment)
		w.Checks = e.r.Checks
	}
	d := s.Deployment(w.Deployment)
	if d == nil {
		return w
	}
	w.Found, w.Want, w.Total = true, cluster.DesiredReplicas(d), d.Status.Replicas
	w.RolledOut = d.Status.ObservedGeneration >= d.Generation
	for _, p := range s.PodsOf(d) {
		if p.DeletionTimestamp != nil {
			continue
		}
		wp := Pod{Name: p.Name, Ready: isReady(p)}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount > 0 {
				wp.Restarts = append(wp.Restarts, Restart{Container: cs.Name, Count: cs.RestartCount})
			}
		}
		for _, ct := range p.Spec.Containers {
			if ct.Name == svc.Name {
				wp.Image = ct.Image
			}
		}
		if wp.Ready {
			w.Ready++
		}
		w.Pods = append(w.Pods, wp)
	}
	return w
}

// Stuck diagnoses the failures waiting does not cure (failed pods, crash
// loops, image pulls that fail), one "check: message" each.
func (w *Workload) Stuck() []string {
	var out []string
	for _, c := range w.Checks {
		if persistent(c) {
			out = append(out, c.Name+": "+c.Message)
		}
	}
	return out
}

// Pending diagnoses what keeps the Deployment from being ready that waiting
// may cure: the other failing checks, a rollout in progress, pods still
// starting; one "check: message" each. OOM kills and restarts over the
// threshold, which are warnings, are not among them.
func (w *Workload) Pending() []string {
	var out []string
	for _, c := range w.Checks {
		if c.Status == check.StatusFail && !persistent(c) || Settling(c) {
			out = append(out, c.Name+": "+c.Message)
		}
	}
	return out
}

// Restarted diagnoses every container restart, whatever the threshold: a
// Deployment being validated must not restart at all.
func (w *Workload) Restarted() []string {
	var out []string
	for _, p := range w.Pods {
		for _, r := range p.Restarts {
			out = append(out, fmt.Sprintf("pod %s: container %s restarted %d time(s)", p.Name, r.Container, r.Count))
		}
	}
	return out
}

// EndpointsOnly reports whether the live Service selects colour and its
// EndpointSlices list only that colour's pods, at least one of them ready,
// with a diagnosis either way.
func EndpointsOnly(snap *cluster.Snapshot, svc traderx.Service, colour string) (string, bool) {
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
