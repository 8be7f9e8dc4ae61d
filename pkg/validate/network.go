package validate

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/netpol"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// addressSuffixes mark environment variables that name another service.
var addressSuffixes = []string{"_HOST", "_URL", "_ADDRESS"}

// 05-dependencies: every wire of the model is set and points at an existing
// Service on the target's native port; any other *_HOST, *_URL or *_ADDRESS
// variable names a Service that exists.
func dependenciesSuite(v *view) []check.Check {
	const suite = SuiteDependencies
	var out []check.Check
	for _, m := range v.deploymentsInOrder() {
		target := "deployment/" + m.d.Name
		wired := map[string]bool{}
		if m.svc != nil {
			c := cluster.MainContainer(m.d, m.svc.Name)
			env := map[string]corev1.EnvVar{}
			if c != nil {
				for _, e := range c.Env {
					env[e.Name] = e
				}
			}
			for _, w := range m.svc.Wires {
				wired[w.Env] = true
				out = append(out, v.wireCheck(target, *m.svc, w, env))
			}
		}
		for _, c := range m.d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if wired[e.Name] || e.ValueFrom != nil || !hasAddressSuffix(e.Name) {
					continue
				}
				out = append(out, v.addressCheck(target, e))
			}
		}
	}
	return out
}

func hasAddressSuffix(name string) bool {
	return slices.ContainsFunc(addressSuffixes, func(s string) bool { return strings.HasSuffix(name, s) })
}

func (v *view) wireCheck(target string, s traderx.Service, w traderx.Wire, env map[string]corev1.EnvVar) check.Check {
	const suite = SuiteDependencies
	t, err := traderx.LookupService(w.Target)
	if err != nil {
		return fail(suite, w.Env, target, "", "model error: %v", err)
	}
	want, _ := traderx.WireValue(w)
	hint := fmt.Sprintf("set %s=%s", w.Env, want)
	e, ok := env[w.Env]
	if !ok {
		return fail(suite, w.Env, target, hint, "%s is not set: %s calls %s on localhost and fails", w.Env, s.Name, t.Name)
	}
	if e.ValueFrom != nil {
		return warn(suite, w.Env, target, hint, "%s comes from a reference (valueFrom): its value cannot be validated", w.Env)
	}
	svcHint := v.applyHint(manifests.ServiceUnitName(t))
	if w.Kind == traderx.WirePort {
		if e.Value != strconv.Itoa(int(t.Port)) {
			return fail(suite, w.Env, target, hint, "%s=%s, but %s listens on %d", w.Env, e.Value, t.Name, t.Port)
		}
		svc := v.Service(t.Name)
		switch {
		case svc == nil:
			return fail(suite, w.Env, target, svcHint, "%s=%s, but Service %s does not exist", w.Env, e.Value, t.Name)
		case !hasPort(svc, t.Port):
			return fail(suite, w.Env, target, fmt.Sprintf("make Service %s listen on %d", t.Name, t.Port),
				"%s=%s, but Service %s does not listen on %d", w.Env, e.Value, t.Name, t.Port)
		}
		return pass(suite, w.Env, target, "%s=%s: Service %s listens on it", w.Env, e.Value, t.Name)
	}

	a, err := parseAddress(e.Value)
	switch {
	case err != nil || a.host == "":
		return fail(suite, w.Env, target, hint, "%s=%q is not a host name", w.Env, e.Value)
	case a.port != "":
		return fail(suite, w.Env, target, hint, "%s=%s carries a port: %s appends :%d to the host itself", w.Env, e.Value, s.Name, t.Port)
	case a.namespace != "" && a.namespace != v.Namespace:
		return fail(suite, w.Env, target, hint, "%s=%s points into namespace %s, not %s", w.Env, e.Value, a.namespace, v.Namespace)
	case a.host != t.Name && v.Service(a.host) != nil:
		return fail(suite, w.Env, target, hint, "%s=%s points at Service %s; %s needs %s", w.Env, e.Value, a.host, s.Name, t.Name)
	case a.host != t.Name:
		return fail(suite, w.Env, target, hint, "%s=%s names no Service; %s needs %s", w.Env, e.Value, s.Name, t.Name)
	}
	svc := v.Service(t.Name)
	switch {
	case svc == nil:
		return fail(suite, w.Env, target, svcHint, "%s=%s, but Service %s does not exist", w.Env, e.Value, t.Name)
	case !hasPort(svc, t.Port):
		return fail(suite, w.Env, target, fmt.Sprintf("make Service %s listen on %d (port = targetPort = native port)", t.Name, t.Port),
			"Service %s does not listen on %d: %s calls %s:%d", t.Name, t.Port, s.Name, e.Value, t.Port)
	}
	return pass(suite, w.Env, target, "%s=%s: Service %s:%d", w.Env, e.Value, t.Name, t.Port)
}

// addressCheck judges a variable the model does not know that looks like it
// names a service.
func (v *view) addressCheck(target string, e corev1.EnvVar) check.Check {
	const suite = SuiteDependencies
	hint := "point it at a Service of the environment, or remove it"
	a, err := parseAddress(e.Value)
	if err != nil || a.host == "" {
		return fail(suite, e.Name, target, hint, "%s=%q names no Service", e.Name, e.Value)
	}
	svc := v.Service(a.host)
	if svc == nil || (a.namespace != "" && a.namespace != v.Namespace) {
		return fail(suite, e.Name, target, hint, "%s=%s names no Service in %s", e.Name, e.Value, v.Namespace)
	}
	if a.port != "" {
		p, err := strconv.Atoi(a.port)
		if err != nil || !hasPort(svc, int32(p)) {
			return fail(suite, e.Name, target, fmt.Sprintf("use a port Service %s listens on", svc.Name),
				"%s=%s, but Service %s does not listen on %s", e.Name, e.Value, svc.Name, a.port)
		}
	}
	return pass(suite, e.Name, target, "%s=%s names Service %s", e.Name, e.Value, svc.Name)
}

type address struct {
	host, namespace, port string
}

// parseAddress reads a host, host:port or URL; a cluster DNS name
// (svc.ns[.svc[.cluster.local]]) gives the Service name and its namespace.
func parseAddress(value string) (address, error) {
	value = strings.TrimSpace(value)
	var a address
	host := value
	switch {
	case strings.Contains(value, "://"):
		u, err := url.Parse(value)
		if err != nil {
			return a, err
		}
		host, a.port = u.Hostname(), u.Port()
	case strings.Contains(value, ":"):
		h, p, err := net.SplitHostPort(value)
		if err != nil {
			return a, err
		}
		host, a.port = h, p
	}
	parts := strings.Split(strings.ToLower(host), ".")
	switch {
	case len(parts) == 1:
		a.host = parts[0]
	case len(parts) == 2 || parts[2] == "svc":
		a.host, a.namespace = parts[0], parts[1]
	default:
		a.host = host // an external name: no Service has it
	}
	return a, nil
}

// 06-endpoints: each service's Service exists, selects the pods of its
// Deployment (and no other), forwards to ports its containers expose, and
// live, has ready endpoints.
func endpointsSuite(v *view) []check.Check {
	const suite = SuiteEndpoints
	var out []check.Check
	for _, s := range traderx.Services() {
		target := "service/" + s.Name
		svc := v.Service(s.Name)
		if svc == nil {
			out = append(out, fail(suite, "exists", target, v.applyHint(manifests.ServiceUnitName(s)),
				"Service %s not found: nothing reaches %s", s.Name, s.Name))
			continue
		}
		out = append(out, pass(suite, "exists", target, "Service %s exists", s.Name))

		var mine, others []string
		var matched []*appsv1.Deployment
		own := map[string]bool{s.DeploymentName(traderx.Blue): true, s.DeploymentName(traderx.Green): true}
		for i := range v.Deployments {
			d := &v.Deployments[i]
			if !selectsTemplate(svc.Spec.Selector, d) {
				continue
			}
			if own[d.Name] {
				mine, matched = append(mine, d.Name), append(matched, d)
			} else {
				others = append(others, d.Name)
			}
		}
		selHint := fmt.Sprintf("select the pods with %s", formatSelector(manifests.Selector(s, v.activeColour(s))))
		var problem string
		switch {
		case len(svc.Spec.Selector) == 0:
			problem = "has no selector: no endpoints are maintained"
		case len(others) > 0:
			problem = fmt.Sprintf("selector %s also selects pods of %s", formatSelector(svc.Spec.Selector), strings.Join(others, ", "))
		case len(mine) == 0:
			problem = fmt.Sprintf("selector %s matches no pod template of %s", formatSelector(svc.Spec.Selector), s.Name)
		}
		out = append(out, result(suite, "selector", target, problem, selHint, "selects pods of "+strings.Join(mine, ", ")))

		var portProblems []string
		if !hasPort(svc, s.Port) {
			portProblems = append(portProblems, fmt.Sprintf("does not listen on %s's port %d", s.Name, s.Port))
		}
		for _, p := range svc.Spec.Ports {
			tp := p.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(p.Port)
			}
			for _, d := range matched {
				if !exposes(d, tp) {
					portProblems = append(portProblems, fmt.Sprintf("port %d forwards to %s, which %s does not expose", p.Port, tp.String(), d.Name))
				}
			}
		}
		out = append(out, result(suite, "target-ports", target, strings.Join(portProblems, "; "),
			fmt.Sprintf("port = targetPort = %d, the container port %s", s.Port, manifests.PortName(s)),
			fmt.Sprintf("ports forward to container ports (%d)", s.Port)))
	}
	if !v.live {
		return append(out, v.liveOnly(suite, "ready-endpoints", "services", "endpoint readiness")...)
	}
	for _, s := range traderx.Services() {
		if v.Service(s.Name) == nil {
			continue
		}
		target := "service/" + s.Name
		if n := v.ReadyEndpoints(s.Name); n > 0 {
			out = append(out, pass(suite, "ready-endpoints", target, "%d ready endpoints", n))
			continue
		}
		out = append(out, fail(suite, "ready-endpoints", target,
			"see which pods are not ready: "+hint.Health(v.env.Name).String(),
			"no ready endpoints: every request to %s fails", s.Name))
	}
	return out
}

// exposes reports whether some container of d declares the target port.
func exposes(d *appsv1.Deployment, tp intstr.IntOrString) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, cp := range c.Ports {
			if (tp.Type == intstr.Int && cp.ContainerPort == tp.IntVal) || (tp.Type == intstr.String && cp.Name == tp.StrVal) {
				return true
			}
		}
	}
	return false
}

func formatSelector(sel map[string]string) string {
	keys := slices.Sorted(maps.Keys(sel))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

// Ingress annotations the routes depend on (ingress-nginx).
const (
	annotationRewrite = "nginx.ingress.kubernetes.io/rewrite-target"
	stripSuffix       = "(/|$)(.*)"
)

type ingressPath struct {
	ing  *networkingv1.Ingress
	host string
	path networkingv1.HTTPIngressPath
}

// routeKey reduces an Ingress path and a model route to comparable form.
func routeKey(path string) string {
	p := strings.TrimSuffix(path, stripSuffix)
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// 07-ingress: every route the front end needs is served on the environment's
// host, with the right prefix handling, to an existing Service and port.
func ingressSuite(v *view) []check.Check {
	const suite = SuiteIngress
	var paths []ingressPath
	for i := range v.Ingresses {
		ing := &v.Ingresses[i]
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				paths = append(paths, ingressPath{ing: ing, host: r.Host, path: p})
			}
		}
	}
	var out []check.Check
	for _, s := range traderx.Services() {
		for _, rt := range s.Routes {
			out = append(out, v.routeCheck(s, rt, paths))
		}
	}
	return out
}

func (v *view) routeCheck(s traderx.Service, rt traderx.Route, paths []ingressPath) check.Check {
	const suite, name = SuiteIngress, "route"
	target := rt.Path
	handling := "keep the path, in an Ingress without rewrite-target"
	if rt.StripPrefix {
		handling = fmt.Sprintf("strip the prefix: path %s%s with rewrite-target /$2", rt.Path, stripSuffix)
	}
	hint := fmt.Sprintf("route %s on host %s to %s:%d (%s)", rt.Path, v.env.Host, s.Name, s.Port, handling)
	var found *ingressPath
	for i := range paths {
		if routeKey(paths[i].path.Path) != routeKey(rt.Path) {
			continue
		}
		if found == nil || (found.host != v.env.Host && paths[i].host == v.env.Host) {
			found = &paths[i]
		}
	}
	if found == nil {
		why := fmt.Sprintf("the front end cannot reach %s", s.Name)
		switch {
		case s.Name == "trade-feed":
			why = "the live trade and position blotter never updates"
		case s.Frontend:
			why = "the front end itself is not served"
		}
		return fail(suite, name, target, hint, "no Ingress routes %s: %s", rt.Path, why)
	}
	var problems []string
	if found.host != v.env.Host {
		problems = append(problems, fmt.Sprintf("served on host %q, but the front end calls %q", found.host, v.env.Host))
	}
	rewrite := found.ing.Annotations[annotationRewrite]
	if rt.StripPrefix {
		if found.path.Path != rt.Path+stripSuffix || rewrite != "/$2" {
			problems = append(problems, fmt.Sprintf("Ingress %s does not strip %s: %s receives %s/... and answers 404",
				found.ing.Name, rt.Path, s.Name, rt.Path))
		}
	} else if rewrite != "" {
		problems = append(problems, fmt.Sprintf("Ingress %s rewrites paths (rewrite-target %s): %s needs %s kept",
			found.ing.Name, rewrite, s.Name, rt.Path))
	}
	b := found.path.Backend.Service
	switch {
	case b == nil:
		problems = append(problems, "the path has no Service backend")
	case b.Name != s.Name:
		problems = append(problems, fmt.Sprintf("routes to %s, want %s", b.Name, s.Name))
	case (b.Port.Number != 0 && b.Port.Number != s.Port) || (b.Port.Name != "" && b.Port.Name != manifests.PortName(s)):
		problems = append(problems, fmt.Sprintf("routes to port %s, %s listens on %d", backendPort(b.Port), s.Name, s.Port))
	default:
		svc := v.Service(s.Name)
		if svc == nil {
			problems = append(problems, fmt.Sprintf("backend Service %s does not exist", s.Name))
		} else if !hasPort(svc, s.Port) {
			problems = append(problems, fmt.Sprintf("backend Service %s does not listen on %d", s.Name, s.Port))
		}
	}
	return result(suite, name, target, strings.Join(problems, "; "), hint,
		fmt.Sprintf("%s%s → %s:%d (Ingress %s)", found.host, found.path.Path, s.Name, s.Port, found.ing.Name))
}

func backendPort(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// 12-network-policies: a default deny isolates every TraderX pod, every
// dependency edge is admitted, the namespace is not open to arbitrary pods,
// and no edge the model does not have is admitted.
func networkPolicySuite(v *view) []check.Check {
	const suite = SuiteNetworkPolicy
	target := "namespace/" + v.Namespace
	fix := v.applyHint(manifests.NetworkPoliciesUnit)
	nsLabels := map[string]string{"kubernetes.io/metadata.name": v.Namespace}
	if v.NamespaceObject != nil {
		maps.Copy(nsLabels, v.NamespaceObject.Labels)
	}
	type endpoint struct {
		w   workload
		pod netpol.Pod
	}
	var pods []endpoint
	for _, w := range v.workloads() {
		l := map[string]string{manifests.LabelApp: w.svc.Name, manifests.LabelPartOf: manifests.PartOf}
		if w.colour != "" {
			l[manifests.LabelColour] = w.colour
		}
		if w.d != nil {
			l = w.d.Spec.Template.Labels
		}
		pods = append(pods, endpoint{w, netpol.Pod{Namespace: v.Namespace, NamespaceLabels: nsLabels, Labels: l}})
	}
	port := func(s traderx.Service, number int32) netpol.Port {
		name := manifests.PortName(s)
		for _, p := range s.ExtraPorts {
			if p.Port == number {
				name = p.Name
			}
		}
		return netpol.Port{Number: number, Name: name, Protocol: corev1.ProtocolTCP}
	}
	var out []check.Check

	// An ingress policy with an empty pod selector and no rules isolates every
	// pod of the namespace; the others then only open what they name.
	var deny string
	for _, p := range v.NetworkPolicies {
		sel := p.Spec.PodSelector
		if p.Namespace == v.Namespace && len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 && len(p.Spec.Ingress) == 0 &&
			(len(p.Spec.PolicyTypes) == 0 || slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)) {
			deny = p.Name
			break
		}
	}
	if deny == "" {
		out = append(out, fail(suite, "default-deny", target, fix,
			"no default-deny ingress policy (empty podSelector, no rules): a pod no other policy selects accepts traffic from anywhere"))
	} else {
		isolated := 0
		for _, p := range pods {
			if netpol.Isolated(v.NetworkPolicies, p.pod) {
				isolated++
			}
		}
		out = append(out, pass(suite, "default-deny", target, "%s isolates %d of %d TraderX pods", deny, isolated, len(pods)))
	}

	if len(v.NetworkPolicies) == 0 {
		out = append(out, fail(suite, "no-allow-all", target, fix,
			"no NetworkPolicy: the namespace is open, every pod accepts traffic from any pod of any namespace"))
	} else {
		strangers := []struct {
			what string
			pod  netpol.Pod
		}{
			{"any namespace", netpol.Pod{Namespace: "traderx-validate-outsider",
				NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "traderx-validate-outsider"}, Labels: map[string]string{}}},
			{"an unknown pod of " + v.Namespace, netpol.Pod{Namespace: v.Namespace, NamespaceLabels: nsLabels,
				Labels: map[string]string{manifests.LabelApp: "traderx-validate-intruder"}}},
		}
		var reached []string
		for _, p := range pods {
			ports := []int32{p.w.svc.Port}
			for _, x := range p.w.svc.ExtraPorts {
				ports = append(ports, x.Port)
			}
			for _, st := range strangers {
				for _, n := range ports {
					if netpol.Allowed(v.NetworkPolicies, st.pod, p.pod, port(p.w.svc, n)) {
						reached = append(reached, fmt.Sprintf("%s:%d from %s", p.w.name, n, st.what))
					}
				}
			}
		}
		out = append(out, result(suite, "no-allow-all", target, missingList("open:", reached),
			"remove rules that admit every source (an empty rule, or from: [{namespaceSelector: {}}])",
			"no policy admits arbitrary pods"))
	}

	edges := map[traderx.Edge]bool{}
	for _, e := range traderx.Edges() {
		edges[e] = true
		var blocked []string
		for _, from := range pods {
			if from.w.svc.Name != e.From {
				continue
			}
			for _, to := range pods {
				if to.w.svc.Name != e.To {
					continue
				}
				if !netpol.Allowed(v.NetworkPolicies, from.pod, to.pod, port(to.w.svc, to.w.svc.Port)) {
					blocked = append(blocked, fmt.Sprintf("%s → %s:%d", from.w.name, to.w.name, to.w.svc.Port))
				}
			}
		}
		out = append(out, result(suite, "edge", e.From+"→"+e.To, missingList("blocked:", blocked),
			fmt.Sprintf("admit it: policy %s in the %s unit", manifests.EdgePolicyName(e), manifests.NetworkPoliciesUnit),
			fmt.Sprintf("%s may call %s", e.From, e.To)))
	}

	var extra []string
	for _, from := range pods {
		for _, to := range pods {
			if from.w.svc.Name == to.w.svc.Name || edges[traderx.Edge{From: from.w.svc.Name, To: to.w.svc.Name}] {
				continue
			}
			if netpol.Allowed(v.NetworkPolicies, from.pod, to.pod, port(to.w.svc, to.w.svc.Port)) {
				extra = append(extra, fmt.Sprintf("%s → %s", from.w.name, to.w.name))
			}
		}
	}
	out = append(out, result(suite, "no-extra-edges", target, missingList("admits calls the model does not have:", extra),
		"admit only the model's dependency edges ("+hint.Manifests(v.env.Name).String()+" shows the policies)",

		"only the model's dependency edges are admitted"))
	return out
}
