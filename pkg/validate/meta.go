package validate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/hint"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// 03-namespace: the namespace exists (live: and is Active), and every object
// of the input belongs to it.
func namespaceSuite(v *view) []check.Check {
	const suite = SuiteNamespace
	target := "namespace/" + v.Namespace
	var out []check.Check
	switch {
	case v.NamespaceObject != nil && v.live:
		out = append(out, pass(suite, "exists", target, "namespace %s exists", v.Namespace))
	case v.NamespaceObject != nil:
		out = append(out, pass(suite, "exists", target, "the input defines namespace %s", v.Namespace))
	case v.live:
		out = append(out, fail(suite, "exists", target,
			"check --context and -n, or deploy the environment: "+hint.Apply(v.env.Name).String(),
			"namespace %s not found", v.Namespace))
	default:
		fix := "include the namespace unit in the input"
		if other := v.otherNamespaces(); len(other) > 0 {
			fix = fmt.Sprintf("the manifests were made for another environment; render them for %s (-n sets the namespace)", v.env.Name)
			out = append(out, fail(suite, "exists", target, fix, "the input defines namespace %s, not %s",
				strings.Join(other, ", "), v.Namespace))
			break
		}
		out = append(out, fail(suite, "exists", target, fix, "the input has no Namespace %s", v.Namespace))
	}

	switch {
	case !v.live:
		out = append(out, v.liveOnly(suite, "active", target, "the namespace phase")...)
	case v.NamespaceObject == nil:
		out = append(out, skip(suite, "active", target, "namespace does not exist"))
	case v.NamespaceObject.Status.Phase == corev1.NamespaceActive:
		out = append(out, pass(suite, "active", target, "phase Active"))
	default:
		out = append(out, fail(suite, "active", target, "wait for the deletion to finish, then deploy again",
			"phase %s: nothing new can be created in it", v.NamespaceObject.Status.Phase))
	}

	if v.live && v.NamespaceObject == nil {
		return out
	}
	var wrong []string
	n := 0
	for _, o := range v.objects {
		if !o.namespaced {
			continue
		}
		n++
		if o.namespace != "" && o.namespace != v.Namespace {
			wrong = append(wrong, fmt.Sprintf("%s in %s", o.target(), o.namespace))
		}
	}
	if len(wrong) > 0 {
		out = append(out, fail(suite, "objects-in-namespace", target,
			fmt.Sprintf("render the manifests for %s; copies of another environment keep its namespace", v.env.Name),
			"%d objects belong to another namespace: %s", len(wrong), firstFew(wrong)))
	} else {
		out = append(out, pass(suite, "objects-in-namespace", target, "all %d objects are in %s", n, v.Namespace))
	}
	return out
}

// otherNamespaces lists the Namespace objects of the input that are not the
// environment's.
func (v *view) otherNamespaces() []string {
	var out []string
	for _, o := range v.objects {
		if o.kind == "Namespace" && o.name != v.Namespace {
			out = append(out, o.name)
		}
	}
	return out
}

func firstFew(items []string) string {
	const n = 3
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// requiredLabels must be on every TraderX object (and pod template).
var requiredLabels = []string{
	manifests.LabelApp, manifests.LabelName, manifests.LabelPartOf, manifests.LabelVersion, manifests.LabelTier,
}

// 11-labels: the required labels on every object and pod template, and
// Prometheus annotations only where the model says metrics are served.
func labelsSuite(v *view) []check.Check {
	const suite = SuiteLabels
	var out []check.Check
	render := "render the manifests from the model: " + hint.Manifests(v.env.Name).String()

	for _, o := range v.objects {
		problems := labelProblems(o.labels, v.serviceOf(o))
		if o.kind == "Deployment" {
			if d := v.Deployment(o.name); d != nil {
				for _, p := range labelProblems(d.Spec.Template.Labels, v.serviceOf(o)) {
					problems = append(problems, "pod template: "+p)
				}
			}
		}
		out = append(out, result(suite, "required-labels", o.target(), strings.Join(problems, "; "), render,
			"app, name, part-of, version and tier labels set"))
	}
	for _, m := range v.deploymentsInOrder() {
		if m.svc == nil {
			continue
		}
		out = append(out, prometheusCheck(m.d.Name, *m.svc, m.d.Annotations, m.d.Spec.Template.Annotations))
	}
	return out
}

// serviceOf returns the model service a Deployment, Service or
// PodDisruptionBudget belongs to, by name.
func (v *view) serviceOf(o object) *traderx.Service {
	switch o.kind {
	case "Deployment", "Service", "PodDisruptionBudget":
	default:
		return nil
	}
	for _, s := range traderx.Services() {
		names := []string{s.Name}
		if s.BlueGreen && o.kind == "Deployment" {
			names = []string{s.DeploymentName(traderx.Blue), s.DeploymentName(traderx.Green)}
		}
		for _, n := range names {
			if n == o.name {
				return &s
			}
		}
	}
	return nil
}

func labelProblems(l map[string]string, s *traderx.Service) []string {
	var missing, out []string
	for _, k := range requiredLabels {
		if l[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		out = append(out, "missing "+strings.Join(missing, ", "))
	}
	if p := l[manifests.LabelPartOf]; p != "" && p != manifests.PartOf {
		out = append(out, fmt.Sprintf("%s=%s, want %s", manifests.LabelPartOf, p, manifests.PartOf))
	}
	if t := l[manifests.LabelTier]; t != "" {
		if _, err := strconv.Atoi(t); err != nil {
			out = append(out, fmt.Sprintf("%s=%s is not a tier number", manifests.LabelTier, t))
		} else if s != nil && t != strconv.Itoa(traderx.TierOf(s.Name)) {
			out = append(out, fmt.Sprintf("%s=%s, %s is in tier %d", manifests.LabelTier, t, s.Name, traderx.TierOf(s.Name)))
		}
	}
	if s != nil {
		if a := l[manifests.LabelApp]; a != "" && a != s.Name {
			out = append(out, fmt.Sprintf("%s=%s, want %s", manifests.LabelApp, a, s.Name))
		}
	}
	return out
}

func prometheusCheck(deployment string, s traderx.Service, annotationSets ...map[string]string) check.Check {
	const suite, name = SuiteLabels, "prometheus-annotations"
	target := "deployment/" + deployment
	found := map[string]string{}
	for _, set := range annotationSets {
		for k, val := range set {
			if strings.HasPrefix(k, "prometheus.io/") {
				found[k] = val
			}
		}
	}
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !s.Metrics {
		if len(keys) > 0 {
			return fail(suite, name, target, "remove the prometheus.io annotations; watch it through kube-state-metrics and blackbox probes",
				"annotated %s, but %s serves no Prometheus metrics (no v1 image does): the scrape target is always down",
				strings.Join(keys, ", "), s.Name)
		}
		return pass(suite, name, target, "no scrape annotations (%s serves no metrics)", s.Name)
	}
	port := strconv.Itoa(int(s.Port))
	if found["prometheus.io/scrape"] != "true" || found["prometheus.io/port"] != port {
		return fail(suite, name, target, "annotate the pod template with prometheus.io/scrape=true and prometheus.io/port="+port,
			"%s serves metrics on %s but is not annotated for scraping", s.Name, port)
	}
	return pass(suite, name, target, "scraped on port %s", port)
}
