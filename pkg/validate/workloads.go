package validate

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// applyHint says where the objects of a unit come from: ConfigHub live,
// the rendered manifests offline.
func (v *view) applyHint(unit string) string {
	if v.live {
		return fmt.Sprintf("re-apply the %s unit from ConfigHub (cub unit apply)", unit)
	}
	return fmt.Sprintf("take the %s unit from the model: %s", unit, hint.Manifests(v.env.Name))
}

// 04-replicas: every expected Deployment exists with the environment's
// replicas (blue-green: the colour the Service selects; the standby may run
// none), singletons are replaced with Recreate, and live, the replicas run.
func replicasSuite(v *view) []check.Check {
	const suite = SuiteReplicas
	var out []check.Check
	for _, s := range traderx.Services() {
		if !s.BlueGreen {
			continue
		}
		target := "service/" + s.Name
		svc := v.Service(s.Name)
		switch c := selectorColour(svc); {
		case svc == nil:
			out = append(out, skip(suite, "active-colour", target,
				fmt.Sprintf("Service %s not found (see %s); assuming %s", s.Name, SuiteEndpoints, manifests.ActiveColour)))
		case c == "":
			out = append(out, fail(suite, "active-colour", target,
				fmt.Sprintf("select one colour: %s=%s or %s", manifests.LabelColour, traderx.Blue, traderx.Green),
				"Service selects no colour: the standby Deployment's pods receive traffic too"))
		case !slices.Contains(traderx.Colours(), c):
			out = append(out, fail(suite, "active-colour", target,
				fmt.Sprintf("select %s=%s or %s", manifests.LabelColour, traderx.Blue, traderx.Green),
				"Service selects colour %q, which is neither blue nor green", c))
		default:
			out = append(out, pass(suite, "active-colour", target, "Service selects %s", c))
		}
	}
	for _, w := range v.workloads() {
		target := "deployment/" + w.name
		want := v.env.ReplicasFor(w.svc)
		active := v.active(w)
		if w.d == nil {
			out = append(out, fail(suite, "desired-replicas", target, v.applyHint(manifests.DeploymentUnitName(w.svc, w.colour)),
				"Deployment %s not found", w.name))
			continue
		}
		got := cluster.DesiredReplicas(w.d)
		switch {
		case !active:
			out = append(out, pass(suite, "desired-replicas", target, "standby colour: %d replicas (0 is fine)", got))
		case got != want:
			hint := fmt.Sprintf("set spec.replicas to %d in the %s unit", want, manifests.DeploymentUnitName(w.svc, w.colour))
			msg := fmt.Sprintf("spec.replicas %d, the %s environment runs %d", got, v.env.Name, want)
			if w.svc.Singleton {
				msg += ": " + w.svc.SingletonReason
			}
			out = append(out, fail(suite, "desired-replicas", target, hint, "%s", msg))
		default:
			out = append(out, pass(suite, "desired-replicas", target, "%d replicas as the %s environment wants", got, v.env.Name))
		}
		if w.svc.Singleton {
			if w.d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
				out = append(out, pass(suite, "strategy", target, "Recreate: never two pods at once"))
			} else {
				out = append(out, fail(suite, "strategy", target, "set spec.strategy.type: Recreate",
					"strategy %s runs a second pod during updates: %s", strategyName(w.d), w.svc.SingletonReason))
			}
		}
	}
	if !v.live {
		return append(out, v.liveOnly(suite, "running-replicas", "deployments", "the number of running replicas")...)
	}
	for _, w := range present(v.workloads()) {
		target := "deployment/" + w.name
		want := cluster.DesiredReplicas(w.d)
		if v.active(w) {
			want = v.env.ReplicasFor(w.svc)
		}
		avail := w.d.Status.AvailableReplicas
		if avail >= want {
			out = append(out, pass(suite, "running-replicas", target, "%d/%d available", avail, want))
			continue
		}
		out = append(out, fail(suite, "running-replicas", target,
			fmt.Sprintf("see why: %s; kubectl describe deployment %s -n %s", hint.Health(v.env.Name), w.name, v.Namespace),

			"%d/%d available (%d ready, %d updated)", avail, want, w.d.Status.ReadyReplicas, w.d.Status.UpdatedReplicas))
	}
	return out
}

// selectorColour is the colour a Service selects ("" for none or no Service).
func selectorColour(svc *corev1.Service) string {
	if svc == nil {
		return ""
	}
	return svc.Spec.Selector[manifests.LabelColour]
}

func strategyName(d *appsv1.Deployment) string {
	if d.Spec.Strategy.Type == "" {
		return string(appsv1.RollingUpdateDeploymentStrategyType)
	}
	return string(d.Spec.Strategy.Type)
}

// 08-resources: requests and limits on every container, requests within
// limits, limits within the environment's bounds.
func resourcesSuite(v *view) []check.Check {
	const suite = SuiteResources
	var out []check.Check
	maxCPU, errCPU := resource.ParseQuantity(v.env.Bounds.MaxCPU)
	maxMem, errMem := resource.ParseQuantity(v.env.Bounds.MaxMemory)
	for _, m := range v.deploymentsInOrder() {
		target := "deployment/" + m.d.Name
		var noReq, noLim, over, outOfBounds []string
		for _, c := range allContainers(m.d) {
			req, lim := c.Resources.Requests, c.Resources.Limits
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				rq, hasReq := req[r]
				lq, hasLim := lim[r]
				if !hasReq {
					noReq = append(noReq, containerField(m.d, c, string(r)))
				}
				if !hasLim {
					noLim = append(noLim, containerField(m.d, c, string(r)))
				}
				if hasReq && hasLim && rq.Cmp(lq) > 0 {
					over = append(over, fmt.Sprintf("%s request %s > limit %s", containerField(m.d, c, string(r)), rq.String(), lq.String()))
				}
				if !hasLim {
					continue
				}
				if r == corev1.ResourceCPU && errCPU == nil && lq.Cmp(maxCPU) > 0 {
					outOfBounds = append(outOfBounds, fmt.Sprintf("%s limit %s > %s", containerField(m.d, c, "cpu"), lq.String(), maxCPU.String()))
				}
				if r == corev1.ResourceMemory && errMem == nil && lq.Cmp(maxMem) > 0 {
					outOfBounds = append(outOfBounds, fmt.Sprintf("%s limit %s > %s", containerField(m.d, c, "memory"), lq.String(), maxMem.String()))
				}
			}
		}
		out = append(out,
			result(suite, "requests", target, missingList("no request for", noReq),
				"set resources.requests.cpu and .memory: without them the scheduler packs pods blindly",
				"cpu and memory requests set"),
			result(suite, "limits", target, missingList("no limit for", noLim),
				"set resources.limits.cpu and .memory: one runaway pod can starve the node",
				"cpu and memory limits set"),
			result(suite, "requests-within-limits", target, strings.Join(over, "; "),
				"lower the request or raise the limit; the API server rejects requests above limits",
				"requests do not exceed limits"),
			result(suite, "limits-within-bounds", target, strings.Join(outOfBounds, "; "),
				fmt.Sprintf("%s allows at most cpu %s and memory %s per container", v.env.Name, v.env.Bounds.MaxCPU, v.env.Bounds.MaxMemory),
				fmt.Sprintf("limits within %s bounds (cpu %s, memory %s)", v.env.Name, v.env.Bounds.MaxCPU, v.env.Bounds.MaxMemory)),
		)
	}
	return out
}

func missingList(prefix string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	return prefix + " " + strings.Join(items, ", ")
}

func allContainers(d *appsv1.Deployment) []corev1.Container {
	return append(slices.Clone(d.Spec.Template.Spec.InitContainers), d.Spec.Template.Spec.Containers...)
}

// containerField names a field of a container; the container is named only
// when the pod has several.
func containerField(d *appsv1.Deployment, c corev1.Container, field string) string {
	if len(d.Spec.Template.Spec.Containers)+len(d.Spec.Template.Spec.InitContainers) > 1 {
		return c.Name + " " + field
	}
	return field
}

// 10-probes: readiness and liveness as the model recommends, startup where
// the model has one; position-service liveness must not be its readiness
// endpoint.
func probesSuite(v *view) []check.Check {
	const suite = SuiteProbes
	var out []check.Check
	for _, w := range present(v.workloads()) {
		target := "deployment/" + w.name
		c := cluster.MainContainer(w.d, w.svc.Name)
		if c == nil {
			out = append(out, fail(suite, "readiness", target, "", "Deployment has no container"))
			continue
		}
		ps := w.svc.Probes
		out = append(out, probeCheck(suite, "readiness", target, w.svc, *c, c.ReadinessProbe, ps.Readiness,
			"traffic reaches pods before they answer"))
		live := probeCheck(suite, "liveness", target, w.svc, *c, c.LivenessProbe, ps.Liveness,
			"a hung process is never restarted")
		if h := c.LivenessProbe; h != nil && h.HTTPGet != nil && w.svc.Probes.Readiness.Kind == traderx.ProbeHTTP &&
			h.HTTPGet.Path == w.svc.Probes.Readiness.Path && ps.Liveness.Path != ps.Readiness.Path {
			live.Status = check.StatusFail
			live.Message = fmt.Sprintf("liveness uses %s, the readiness endpoint: it fails while a dependency is down, so the kubelet restarts every %s pod in a database outage",
				h.HTTPGet.Path, w.svc.Name)
			live.Hint = fmt.Sprintf("probe liveness with %s", describeProbe(ps.Liveness, w.svc.Port))
		}
		out = append(out, live)
		if ps.Startup != nil {
			out = append(out, probeCheck(suite, "startup", target, w.svc, *c, c.StartupProbe, *ps.Startup,
				"liveness kills the pod while it is still starting"))
		}
	}
	return out
}

func describeProbe(p traderx.Probe, defaultPort int32) string {
	port := p.Port
	if port == 0 {
		port = defaultPort
	}
	if p.Kind == traderx.ProbeHTTP {
		return fmt.Sprintf("HTTP GET %s on %d", p.Path, port)
	}
	return fmt.Sprintf("TCP %d", port)
}

func probeCheck(suite, name, target string, s traderx.Service, c corev1.Container, got *corev1.Probe, want traderx.Probe, without string) check.Check {
	wantText := describeProbe(want, s.Port)
	hint := fmt.Sprintf("set %sProbe to %s", name, wantText)
	if got == nil {
		return fail(suite, name, target, hint, "no %s probe: %s", name, without)
	}
	wantPort := want.Port
	if wantPort == 0 {
		wantPort = s.Port
	}
	var kind traderx.ProbeKind
	var port intstr.IntOrString
	var path string
	switch {
	case got.HTTPGet != nil:
		kind, port, path = traderx.ProbeHTTP, got.HTTPGet.Port, got.HTTPGet.Path
	case got.TCPSocket != nil:
		kind, port = traderx.ProbeTCP, got.TCPSocket.Port
	default:
		return fail(suite, name, target, hint, "%s probe is neither HTTP nor TCP, want %s", name, wantText)
	}
	var gotText string
	if kind == traderx.ProbeHTTP {
		gotText = fmt.Sprintf("HTTP GET %s on %s", path, port.String())
	} else {
		gotText = fmt.Sprintf("TCP %s", port.String())
	}
	switch {
	case kind != want.Kind, kind == traderx.ProbeHTTP && path != want.Path, resolvePort(c, port) != wantPort:
		return fail(suite, name, target, hint, "%s probe is %s, want %s", name, gotText, wantText)
	}
	return pass(suite, name, target, "%s", wantText)
}

// resolvePort turns a port number or container port name into a number (0
// when a name resolves to nothing).
func resolvePort(c corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// 13-security-context: non-root, no privilege escalation, every capability
// dropped, the runtime's default seccomp profile.
func securitySuite(v *view) []check.Check {
	const suite = SuiteSecurity
	var out []check.Check
	for _, m := range v.deploymentsInOrder() {
		target := "deployment/" + m.d.Name
		pod := m.d.Spec.Template.Spec.SecurityContext
		if pod == nil {
			pod = &corev1.PodSecurityContext{}
		}
		var root, escalate, caps, seccomp []string
		for _, c := range allContainers(m.d) {
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			name := containerField(m.d, c, "")
			nonRoot, user := pod.RunAsNonRoot, pod.RunAsUser
			if sc.RunAsNonRoot != nil {
				nonRoot = sc.RunAsNonRoot
			}
			if sc.RunAsUser != nil {
				user = sc.RunAsUser
			}
			switch {
			case nonRoot == nil || !*nonRoot:
				root = append(root, strings.TrimSpace(name+" runAsNonRoot is not true"))
			case user != nil && *user == 0:
				root = append(root, strings.TrimSpace(name+" runAsUser is 0"))
			}
			switch {
			case sc.Privileged != nil && *sc.Privileged:
				escalate = append(escalate, strings.TrimSpace(name+" is privileged"))
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				escalate = append(escalate, strings.TrimSpace(name+" allowPrivilegeEscalation is not false"))
			}
			switch {
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
				caps = append(caps, strings.TrimSpace(name+" does not drop ALL"))
			case len(sc.Capabilities.Add) > 0:
				caps = append(caps, strings.TrimSpace(fmt.Sprintf("%s adds %v", name, sc.Capabilities.Add)))
			}
			profile := pod.SeccompProfile
			if sc.SeccompProfile != nil {
				profile = sc.SeccompProfile
			}
			if profile == nil || (profile.Type != corev1.SeccompProfileTypeRuntimeDefault && profile.Type != corev1.SeccompProfileTypeLocalhost) {
				got := "none"
				if profile != nil {
					got = string(profile.Type)
				}
				seccomp = append(seccomp, strings.TrimSpace(fmt.Sprintf("%s seccomp profile %s", name, got)))
			}
		}
		out = append(out,
			result(suite, "run-as-non-root", target, strings.Join(root, "; "),
				"set securityContext.runAsNonRoot: true and a non-zero runAsUser", "runs as non-root"),
			result(suite, "no-privilege-escalation", target, strings.Join(escalate, "; "),
				"set allowPrivilegeEscalation: false on every container", "privilege escalation disabled"),
			result(suite, "drop-all-capabilities", target, strings.Join(caps, "; "),
				`set capabilities.drop: ["ALL"] and add none`, "drops ALL capabilities"),
			result(suite, "seccomp", target, strings.Join(seccomp, "; "),
				"set securityContext.seccompProfile.type: RuntimeDefault", "seccomp profile RuntimeDefault"),
		)
	}
	return out
}

// failingWaitReasons are container states that never resolve on their own.
var failingWaitReasons = []string{
	"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "InvalidImageName",
}

// 14-pods (live only): no pod of a TraderX Deployment is crash-looping or failed.
func podsSuite(v *view) []check.Check {
	const suite = SuitePods
	if !v.live {
		return append(v.liveOnly(suite, "no-crash-loop", "pods", "pod state"),
			v.liveOnly(suite, "no-failed-pods", "pods", "pod state")...)
	}
	var out []check.Check
	for _, w := range present(v.workloads()) {
		target := "deployment/" + w.name
		pods := v.PodsOf(w.d)
		var looping, failed []string
		for _, p := range pods {
			if p.Status.Phase == corev1.PodFailed {
				failed = append(failed, fmt.Sprintf("%s (%s)", p.Name, firstNonEmpty(p.Status.Reason, p.Status.Message, "Failed")))
			}
			for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
				if cs.State.Waiting != nil && slices.Contains(failingWaitReasons, cs.State.Waiting.Reason) {
					looping = append(looping, fmt.Sprintf("%s %s, %d restarts", p.Name, cs.State.Waiting.Reason, cs.RestartCount))
				}
			}
		}
		logs := fmt.Sprintf("read the logs: kubectl logs -n %s deployment/%s --previous", v.Namespace, w.name)
		out = append(out,
			result(suite, "no-crash-loop", target, firstFew(looping), logs,
				fmt.Sprintf("%d pods, none crash-looping", len(pods))),
			result(suite, "no-failed-pods", target, missingList("failed:", failed),
				fmt.Sprintf("see why: kubectl describe pod -n %s; delete failed pods once understood", v.Namespace),
				fmt.Sprintf("%d pods, none failed", len(pods))),
		)
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// 15-availability: in protected environments, replicated services have a
// PodDisruptionBudget and topology spread; single replicas are a WARN, and
// singletons say why they must stay single.
//
// Singletons (database, trade-processor) get a WARN rather than a PASS: the
// single point of failure is real and by design, and a protected
// environment's report should keep it in view. --fail-on warn therefore fails
// every protected environment until the model changes; that is the intent.
func availabilitySuite(v *view) []check.Check {
	const suite = SuiteAvailability
	if !v.env.Protected {
		return []check.Check{skip(suite, "protected", "environment/"+v.env.Name,
			fmt.Sprintf("%s is not protected: PodDisruptionBudgets and topology spread are required in protected environments only", v.env.Name))}
	}
	var out []check.Check
	for _, s := range traderx.Services() {
		target := "service/" + s.Name
		d := v.Deployment(s.DeploymentName(v.activeColour(s)))
		replicas := v.env.ReplicasFor(s)
		if d != nil {
			replicas = cluster.DesiredReplicas(d)
		}
		if s.Singleton {
			out = append(out, warn(suite, "singleton", target,
				"expected: keep it at 1 replica; back it up and alert on it instead",
				"runs exactly 1 replica by design (a single point of failure): %s", s.SingletonReason))
			continue
		}
		if replicas <= 1 {
			out = append(out, warn(suite, "single-replica", target,
				fmt.Sprintf("run at least 2 replicas in %s", v.env.Name),
				"%d replica: a pod restart or node drain makes %s unavailable", replicas, s.Name))
			continue
		}
		if d == nil {
			out = append(out, skip(suite, "pdb", target, fmt.Sprintf("Deployment %s not found (see %s)", s.DeploymentName(v.activeColour(s)), SuiteReplicas)))
			continue
		}
		out = append(out, v.pdbCheck(s, d, replicas), topologyCheck(s, d))
	}
	return out
}

func (v *view) pdbCheck(s traderx.Service, d *appsv1.Deployment, replicas int32) check.Check {
	const suite, name = SuiteAvailability, "pdb"
	target := "service/" + s.Name
	for _, p := range v.PodDisruptionBudgets {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		blocks := false
		switch {
		case p.Spec.MaxUnavailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(replicas), true)
			blocks = err != nil || n < 1
		case p.Spec.MinAvailable != nil:
			n, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(replicas), true)
			blocks = err != nil || int32(n) >= replicas
		}
		if blocks {
			return fail(suite, name, target, "allow one disruption: maxUnavailable: 1",
				"PodDisruptionBudget %s allows no disruption of %d replicas: node drains hang", p.Name, replicas)
		}
		return pass(suite, name, target, "PodDisruptionBudget %s covers %d replicas", p.Name, replicas)
	}
	return fail(suite, name, target, v.applyHint(manifests.ServiceUnitName(s)),
		"no PodDisruptionBudget selects %s's pods: a node drain may evict all %d replicas at once", s.Name, replicas)
}

func topologyCheck(s traderx.Service, d *appsv1.Deployment) check.Check {
	const suite, name = SuiteAvailability, "topology-spread"
	target := "service/" + s.Name
	spec := d.Spec.Template.Spec
	for _, t := range spec.TopologySpreadConstraints {
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			return pass(suite, name, target, "spread over %s (maxSkew %d)", t.TopologyKey, t.MaxSkew)
		}
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil &&
		(len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0 || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0) {
		return pass(suite, name, target, "pod anti-affinity spreads the replicas")
	}
	return fail(suite, name, target, "add a topologySpreadConstraint on kubernetes.io/hostname selecting the pods",
		"no topology spread: every replica of %s may land on one node", s.Name)
}
