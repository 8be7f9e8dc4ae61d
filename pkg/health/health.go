// Package health judges a TraderX environment from a cluster Snapshot: every
// check is named, can fail, and says what to do when it does. It never talks
// to the API server itself except through Run (one Snapshot) and the optional
// HTTP probes.
package health

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// Suites group the checks.
const (
	SuiteNamespace    = "namespace"
	SuiteDeployment   = "deployment"
	SuitePods         = "pods"
	SuiteService      = "service"
	SuiteDependencies = "dependencies"
	SuiteIngress      = "ingress"
	SuiteConfigHub    = "confighub"
	SuiteProbe        = "probe"
)

// Names of the pod checks whose failures waiting does not cure.
const (
	CheckPodsFailed    = "pods-failed"
	CheckPodsCrashLoop = "pods-crashloop"
	CheckPodsImagePull = "pods-image-pull"
)

// Names of the checks whose warnings go away by themselves.
const (
	CheckRolloutComplete = "rollout-complete"
	CheckPodsReady       = "pods-ready"
)

// Persistent returns the failed checks of r that waiting does not cure:
// failed pods, crash loops and image pulls that fail. ConfigHub's worker
// never completes the apply of such a Deployment (it waits for readiness), so
// an apply gate stops on them at once instead of waiting out its timeout.
func Persistent(r *check.Report) []check.Check {
	var out []check.Check
	for _, c := range r.Checks {
		if persistent(c) {
			out = append(out, c)
		}
	}
	return out
}

func persistent(c check.Check) bool {
	if c.Status != check.StatusFail {
		return false
	}
	switch c.Name {
	case CheckPodsFailed, CheckPodsCrashLoop, CheckPodsImagePull:
		return true
	}
	return false
}

// Settling reports a warning that goes away by itself: a rollout in
// progress, pods still starting. A gate keeps waiting on it (up to its
// timeout) rather than accepting DEGRADED at once.
func Settling(c check.Check) bool {
	return c.Status == check.StatusWarn && (c.Name == CheckRolloutComplete || c.Name == CheckPodsReady)
}

// Defaults of Options.
const (
	DefaultRestartThreshold = 3
	DefaultNotReadyGrace    = 2 * time.Minute
)

// Options tune a health run.
type Options struct {
	// Services limits the service checks to these names; empty means all.
	Services []string
	// RestartThreshold: more container restarts than this is a warning.
	RestartThreshold int32
	// NotReadyGrace: a pod not ready for longer than this fails; shorter is a
	// warning (it may be starting).
	NotReadyGrace time.Duration
	// Now is the evaluation time (tests pin it); zero means the snapshot's time.
	Now time.Time
	// Sync reports ConfigHub sync; nil means no credentials and the checks SKIP.
	Sync SyncSource
	// Prober probes HTTP health endpoints (--probe); nil disables probing.
	Prober Prober
	// Colours judges these blue-green services' Deployments of the given
	// colour instead of the one the Service selects (a blue-green switch
	// validates the new colour before it takes traffic).
	Colours map[string]string
	// PodsSince, when set, leaves pods created before it out of the pod
	// checks: judging a change, the pods it replaces (crash-looping ones, in
	// a rollback) say nothing about it.
	PodsSince time.Time
}

func (o Options) withDefaults(s *cluster.Snapshot) Options {
	if o.RestartThreshold == 0 {
		o.RestartThreshold = DefaultRestartThreshold
	}
	if o.NotReadyGrace == 0 {
		o.NotReadyGrace = DefaultNotReadyGrace
	}
	if o.Now.IsZero() {
		o.Now = s.TakenAt
	}
	return o
}

// Run takes one Snapshot of the environment's namespace and evaluates it.
func Run(ctx context.Context, c kubernetes.Interface, env traderx.Environment, o Options) (*check.Report, error) {
	s, err := Snapshot(ctx, c, env)
	if err != nil {
		return nil, err
	}
	return Judge(ctx, s, env, o), nil
}

// Judge evaluates a snapshot, then adds the ConfigHub sync checks and, with
// a Prober, the HTTP probes: everything Run does but taking the snapshot.
func Judge(ctx context.Context, s *cluster.Snapshot, env traderx.Environment, o Options) *check.Report {
	r := Evaluate(s, env, o)
	if o.Sync != nil {
		r.Add(syncChecks(ctx, o.Sync, env)...)
	} else {
		r.Add(check.Check{Suite: SuiteConfigHub, Name: "sync", Target: "confighub", Status: check.StatusSkip,
			Message: "no ConfigHub credentials: head/live sync not checked",
			Hint:    "set CUB_SERVER and CUB_TOKEN, or run `cub auth login`"})
	}
	if o.Prober != nil {
		r.Add(probeChecks(ctx, o.Prober, s, env, o)...)
	}
	r.Finalize()
	return r
}

// Evaluate judges a snapshot against the model. It is pure: the same snapshot
// and options give the same report.
func Evaluate(s *cluster.Snapshot, env traderx.Environment, o Options) *check.Report {
	o = o.withDefaults(s)
	r := check.NewReport(check.KindHealth, env.Name, s.Namespace)
	services, err := traderx.LookupServices(o.Services)
	if err != nil {
		// Callers validate names first; an unknown one here is a bug upstream.
		r.Add(check.Check{Suite: SuiteNamespace, Name: "services", Target: "input", Status: check.StatusFail, Message: err.Error()})
		r.Finalize()
		return r
	}
	e := evaluator{s: s, env: env, o: o, r: r}
	if !e.namespace() {
		for _, svc := range services {
			r.Add(check.Check{Suite: SuiteDeployment, Name: "deployment", Target: svc.Name, Status: check.StatusSkip,
				Message: "not evaluated: namespace " + s.Namespace + " is missing or not Active"})
		}
		r.Finalize()
		return r
	}
	for _, svc := range services {
		e.service(svc)
	}
	if len(o.Services) == 0 {
		e.ingress()
	}
	r.Finalize()
	return r
}

type evaluator struct {
	s   *cluster.Snapshot
	env traderx.Environment
	o   Options
	r   *check.Report
}

func (e *evaluator) add(c check.Check) { e.r.Add(c) }

func (e *evaluator) namespace() bool {
	c := check.Check{Suite: SuiteNamespace, Name: "namespace-active", Target: "namespace/" + e.s.Namespace}
	switch {
	case e.s.NamespaceObject == nil:
		c.Status, c.Message = check.StatusFail, "namespace "+e.s.Namespace+" not found"
		c.Hint = "is the context right (--context)? Otherwise install the environment: " + hint.Apply(e.env.Name).String()
	case !e.s.NamespaceActive():
		c.Status, c.Message = check.StatusFail, fmt.Sprintf("namespace %s is %s", e.s.Namespace, e.s.NamespaceObject.Status.Phase)
		c.Hint = "the namespace is being deleted; wait for it to go, then re-apply the environment"
	default:
		c.Status, c.Message = check.StatusPass, "namespace "+e.s.Namespace+" is Active"
	}
	e.add(c)
	return c.Status == check.StatusPass
}

func (e *evaluator) activeColour(svc traderx.Service) string { return activeColour(e.s, svc, e.o) }

// activeColour returns the colour the service's Service selects, or the
// rendered default when the Service is missing or selects no colour.
func activeColour(snap *cluster.Snapshot, svc traderx.Service, o Options) string {
	if !svc.BlueGreen {
		return ""
	}
	if c := o.Colours[svc.Name]; c != "" {
		return c
	}
	if s := snap.Service(svc.Name); s != nil {
		if c := s.Spec.Selector[manifests.LabelColour]; c != "" {
			return c
		}
	}
	return manifests.ActiveColour
}

func (e *evaluator) service(svc traderx.Service) {
	e.deployment(svc, svc.DeploymentName(e.activeColour(svc)))
	e.serviceEndpoints(svc)
	e.dependencies(svc)
}

// deployment judges one Deployment of the service: that it exists, its
// rollout and its pods.
func (e *evaluator) deployment(svc traderx.Service, name string) {
	d := e.s.Deployment(name)
	if d == nil {
		e.add(check.Check{Suite: SuiteDeployment, Name: "deployment-exists", Target: svc.Name, Status: check.StatusFail,
			Message: "Deployment " + name + " not found",
			Hint:    "re-apply the service: " + hint.Apply(e.env.Name, svc.Name).String()})
	} else {
		e.add(check.Check{Suite: SuiteDeployment, Name: "deployment-exists", Target: svc.Name, Status: check.StatusPass,
			Message: "Deployment " + name + " exists"})
		e.rollout(svc, d)
		e.pods(svc, d)
	}
}

func (e *evaluator) rollout(svc traderx.Service, d *appsv1.Deployment) {
	c := check.Check{Suite: SuiteDeployment, Name: CheckRolloutComplete, Target: svc.Name}
	want := cluster.DesiredReplicas(d)
	if want == 0 {
		c.Status, c.Message = check.StatusFail, "Deployment "+d.Name+" is scaled to zero"
		c.Hint = "scale it back through ConfigHub: " + hint.Apply(e.env.Name, svc.Name).String()
		e.add(c)
		return
	}
	res, err := kstatusOf(d)
	counts := fmt.Sprintf("%d/%d updated, %d available", d.Status.UpdatedReplicas, want, d.Status.AvailableReplicas)
	switch {
	case err != nil:
		c.Status, c.Message = check.StatusFail, "cannot compute rollout status: "+err.Error()
	case res.Status == status.CurrentStatus:
		c.Status, c.Message = check.StatusPass, "rollout complete: "+counts
	case res.Status == status.FailedStatus:
		c.Status, c.Message = check.StatusFail, "rollout failed: "+res.Message+" ("+counts+")"
		c.Hint = fmt.Sprintf("kubectl -n %s describe deployment %s; roll back with: %s", d.Namespace, d.Name, hint.Rollback(e.env.Name, 0))
	case d.Status.AvailableReplicas == 0:
		c.Status, c.Message = check.StatusFail, "no replica available: "+res.Message+" ("+counts+")"
		c.Hint = "see the pods checks of this service for the cause"
	default:
		c.Status, c.Message = check.StatusWarn, "rollout in progress: "+res.Message+" ("+counts+")"
		c.Hint = "re-run with --wait to wait for it"
	}
	e.add(c)
}

func kstatusOf(d *appsv1.Deployment) (*status.Result, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	return status.Compute(u)
}

// podProblem is one finding about one pod.
type podProblem struct {
	pod, detail string
}

func (e *evaluator) pods(svc traderx.Service, d *appsv1.Deployment) {
	pods := e.s.PodsOf(d)
	var failed, crash, pull, oom, notReadyLong, notReadyNew, restarts []podProblem
	ready := 0
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.CreationTimestamp.Time.Before(e.o.PodsSince) {
			continue
		}
		if p.Status.Phase == corev1.PodFailed {
			failed = append(failed, podProblem{p.Name, "phase Failed: " + p.Status.Reason + " " + terminationReason(p)})
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				switch w.Reason {
				case "CrashLoopBackOff":
					crash = append(crash, podProblem{p.Name, fmt.Sprintf("%s in CrashLoopBackOff (%d restarts)", cs.Name, cs.RestartCount)})
				case "ImagePullBackOff", "ErrImagePull", "InvalidImageName":
					pull = append(pull, podProblem{p.Name, fmt.Sprintf("%s: %s (%s)", cs.Name, w.Reason, cs.Image)})
				}
			}
			if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
				oom = append(oom, podProblem{p.Name, cs.Name + " was OOMKilled"})
			}
			if cs.RestartCount > e.o.RestartThreshold {
				restarts = append(restarts, podProblem{p.Name, fmt.Sprintf("%s restarted %d times", cs.Name, cs.RestartCount)})
			}
		}
		if isReady(p) {
			ready++
			continue
		}
		since := notReadySince(p)
		if since.IsZero() || e.o.Now.Sub(since) >= e.o.NotReadyGrace {
			notReadyLong = append(notReadyLong, podProblem{p.Name, "not ready for " + e.o.Now.Sub(since).Round(time.Second).String()})
		} else {
			notReadyNew = append(notReadyNew, podProblem{p.Name, "not ready for " + e.o.Now.Sub(since).Round(time.Second).String()})
		}
	}
	ns := d.Namespace
	e.add(podCheck(svc.Name, CheckPodsFailed, check.StatusFail, failed, "no failed pods",
		fmt.Sprintf("kubectl -n %s describe pod %s", ns, first(failed))))
	e.add(podCheck(svc.Name, CheckPodsCrashLoop, check.StatusFail, crash, "no crash-looping containers",
		fmt.Sprintf("kubectl -n %s logs %s --previous; if a change caused it: %s", ns, first(crash), hint.Rollback(e.env.Name, 0))))
	e.add(podCheck(svc.Name, CheckPodsImagePull, check.StatusFail, pull, "images pulled",
		"check the image tag exists in "+traderx.ImageRepository+" and the node can reach the registry"))
	e.add(podCheck(svc.Name, "pods-oomkilled", check.StatusWarn, oom, "no OOMKilled containers",
		"raise the memory limit of "+svc.Name+" in ConfigHub or find the leak"))
	e.add(podCheck(svc.Name, "pods-restarts", check.StatusWarn, restarts, fmt.Sprintf("restarts within threshold (%d)", e.o.RestartThreshold),
		fmt.Sprintf("kubectl -n %s logs %s --previous", ns, first(restarts))))
	readyCheck := podCheck(svc.Name, CheckPodsReady, check.StatusFail, notReadyLong, fmt.Sprintf("%d/%d pods ready", ready, len(pods)),
		fmt.Sprintf("kubectl -n %s describe pod %s (readiness probe)", ns, first(notReadyLong)))
	if readyCheck.Status == check.StatusPass && len(notReadyNew) > 0 {
		readyCheck = podCheck(svc.Name, CheckPodsReady, check.StatusWarn, notReadyNew, "",
			fmt.Sprintf("pods may still be starting (fails after %s); re-run with --wait", e.o.NotReadyGrace))
	}
	e.add(readyCheck)
}

func podCheck(target, name string, bad check.Status, problems []podProblem, okMsg, hint string) check.Check {
	c := check.Check{Suite: SuitePods, Name: name, Target: target}
	if len(problems) == 0 {
		c.Status, c.Message = check.StatusPass, okMsg
		return c
	}
	var parts []string
	for i, p := range problems {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(problems)-3))
			break
		}
		parts = append(parts, p.pod+": "+p.detail)
	}
	c.Status, c.Message, c.Hint = bad, strings.Join(parts, "; "), hint
	return c
}

func first(p []podProblem) string {
	if len(p) == 0 {
		return ""
	}
	return p[0].pod
}

func terminationReason(p corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return fmt.Sprintf("(%s, exit %d)", t.Reason, t.ExitCode)
		}
	}
	return ""
}

func isReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func notReadySince(p corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return p.CreationTimestamp.Time
}

func (e *evaluator) serviceEndpoints(svc traderx.Service) {
	s := e.s.Service(svc.Name)
	if s == nil {
		e.add(check.Check{Suite: SuiteService, Name: "service-exists", Target: svc.Name, Status: check.StatusFail,
			Message: "Service " + svc.Name + " not found: its dependents cannot reach it",
			Hint:    "re-apply it: " + hint.Apply(e.env.Name, svc.Name).String()})
		return
	}
	e.add(check.Check{Suite: SuiteService, Name: "service-exists", Target: svc.Name, Status: check.StatusPass,
		Message: fmt.Sprintf("Service %s exists (selector %s)", svc.Name, selectorString(s.Spec.Selector))})
	c := check.Check{Suite: SuiteService, Name: "endpoints-ready", Target: svc.Name}
	if n := e.s.ReadyEndpoints(svc.Name); n > 0 {
		c.Status, c.Message = check.StatusPass, fmt.Sprintf("%d ready endpoint(s)", n)
	} else {
		c.Status, c.Message = check.StatusFail, "no ready endpoints: nothing serves "+svc.Name
		c.Hint = "check that the Service selector matches ready pods of the active Deployment"
	}
	e.add(c)
}

func selectorString(sel map[string]string) string {
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (e *evaluator) dependencies(svc traderx.Service) {
	for _, dep := range svc.Dependencies() {
		c := check.Check{Suite: SuiteDependencies, Name: "depends-on-" + dep, Target: svc.Name}
		switch {
		case e.s.Service(dep) == nil:
			c.Status, c.Message = check.StatusFail, fmt.Sprintf("dependency %s is down: its Service is missing", dep)
			c.Hint = "fix " + dep + " first; " + svc.Name + " cannot work without it"
		case e.s.ReadyEndpoints(dep) == 0:
			c.Status, c.Message = check.StatusFail, fmt.Sprintf("dependency %s is down: no ready endpoints", dep)
			c.Hint = "fix " + dep + " first; " + svc.Name + " cannot work without it"
		default:
			c.Status, c.Message = check.StatusPass, "dependency "+dep+" has ready endpoints"
		}
		e.add(c)
	}
}

func (e *evaluator) ingress() {
	for _, name := range []string{manifests.APIIngressName, manifests.WebIngressName} {
		ing := e.s.Ingress(name)
		c := check.Check{Suite: SuiteIngress, Name: "ingress-exists", Target: "ingress/" + name}
		if ing == nil {
			c.Status, c.Message = check.StatusFail, "Ingress "+name+" not found: the front end is unreachable"
			c.Hint = "re-apply it: " + hint.Apply(e.env.Name).String()

			e.add(c)
			continue
		}
		c.Status, c.Message = check.StatusPass, "Ingress "+name+" exists"
		e.add(c)
		var missing []string
		total := 0
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				b := p.Backend.Service
				if b == nil {
					continue
				}
				total++
				s := e.s.Service(b.Name)
				switch {
				case s == nil:
					missing = append(missing, fmt.Sprintf("%s → Service %s missing", p.Path, b.Name))
				case !servicePort(s, b.Port.Number, b.Port.Name):
					missing = append(missing, fmt.Sprintf("%s → Service %s has no port %s", p.Path, b.Name, portLabel(b.Port.Number, b.Port.Name)))
				}
			}
		}
		bc := check.Check{Suite: SuiteIngress, Name: "backends-exist", Target: "ingress/" + name}
		if len(missing) == 0 {
			bc.Status, bc.Message = check.StatusPass, fmt.Sprintf("all %d backends exist", total)
		} else {
			bc.Status, bc.Message = check.StatusFail, strings.Join(missing, "; ")
			bc.Hint = "re-apply the missing services, or fix the Ingress unit in ConfigHub"
		}
		e.add(bc)
	}
}

func servicePort(s *corev1.Service, number int32, name string) bool {
	for _, p := range s.Spec.Ports {
		if (number != 0 && p.Port == number) || (name != "" && p.Name == name) {
			return true
		}
	}
	return false
}

func portLabel(number int32, name string) string {
	if name != "" {
		return name
	}
	return fmt.Sprint(number)
}
