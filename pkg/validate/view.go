package validate

import (
	"fmt"
	"slices"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// view is the one typed picture every suite reads, built from a live
// snapshot or from offline objects.
type view struct {
	env  traderx.Environment
	live bool
	// offline is why live-only validations SKIP (offline runs only).
	offline   string
	namespace string
	// ns is the environment's Namespace: live, nil when it does not exist;
	// offline, nil when the input does not define it.
	ns          *corev1.Namespace
	deployments []appsv1.Deployment
	services    []corev1.Service
	ingresses   []networkingv1.Ingress
	policies    []networkingv1.NetworkPolicy
	pdbs        []policyv1.PodDisruptionBudget
	pods        []corev1.Pod
	slices      []discoveryv1.EndpointSlice
	// objects are every object of the input with its labels, for the
	// namespace and label suites.
	objects   []object
	confighub *ConfigHubState
	secrets   map[string]bool
}

// object is the identity and labels of one object of any kind.
type object struct {
	kind, name, namespace string
	labels                map[string]string
	namespaced            bool
}

func (o object) target() string { return kindTarget(o.kind, o.name) }

func kindTarget(kind, name string) string {
	switch kind {
	case "Namespace":
		return "namespace/" + name
	case "Deployment":
		return "deployment/" + name
	case "Service":
		return "service/" + name
	case "Ingress":
		return "ingress/" + name
	case "NetworkPolicy":
		return "networkpolicy/" + name
	case "PodDisruptionBudget":
		return "pdb/" + name
	case "ServiceAccount":
		return "serviceaccount/" + name
	}
	return kind + "/" + name
}

func newView(in Input) (*view, error) {
	v := &view{env: in.Env, secrets: in.Secrets, confighub: in.ConfigHub}
	if s := in.Snapshot; s != nil {
		v.live = true
		v.namespace = s.Namespace
		v.ns = s.NamespaceObject
		v.deployments, v.services, v.ingresses = s.Deployments, s.Services, s.Ingresses
		v.policies, v.pdbs, v.pods, v.slices = s.NetworkPolicies, s.PodDisruptionBudgets, s.Pods, s.EndpointSlices
		if v.ns != nil {
			v.objects = append(v.objects, object{kind: "Namespace", name: v.ns.Name, labels: v.ns.Labels})
		}
		add := func(kind string, m metav1.ObjectMeta) {
			v.objects = append(v.objects, object{kind: kind, name: m.Name, namespace: m.Namespace, labels: m.Labels, namespaced: true})
		}
		for _, d := range v.deployments {
			add("Deployment", d.ObjectMeta)
		}
		for _, x := range v.services {
			add("Service", x.ObjectMeta)
		}
		for _, x := range v.ingresses {
			add("Ingress", x.ObjectMeta)
		}
		for _, x := range v.policies {
			add("NetworkPolicy", x.ObjectMeta)
		}
		for _, x := range v.pdbs {
			add("PodDisruptionBudget", x.ObjectMeta)
		}
		return v, nil
	}

	v.namespace = in.Env.Namespace()
	v.offline = in.OfflineReason
	if v.offline == "" {
		v.offline = "offline validation of manifests"
	}
	for i, u := range in.Objects {
		kind := u.GetKind()
		v.objects = append(v.objects, object{kind: kind, name: u.GetName(), namespace: u.GetNamespace(),
			labels: u.GetLabels(), namespaced: kind != "Namespace"})
		var err error
		switch kind {
		case "Namespace":
			var ns corev1.Namespace
			if err = convert(u, &ns); err == nil && ns.Name == v.namespace {
				v.ns = &ns
			}
		case "Deployment":
			err = convertAppend(u, &v.deployments)
		case "Service":
			err = convertAppend(u, &v.services)
		case "Ingress":
			err = convertAppend(u, &v.ingresses)
		case "NetworkPolicy":
			err = convertAppend(u, &v.policies)
		case "PodDisruptionBudget":
			err = convertAppend(u, &v.pdbs)
		}
		if err != nil {
			return nil, fmt.Errorf("object %d (%s %s): %w", i+1, kind, u.GetName(), err)
		}
	}
	v.defaultNamespaces()
	return v, nil
}

// defaultNamespaces puts offline objects without a namespace into the
// environment's, where applying them would put them.
func (v *view) defaultNamespaces() {
	set := func(m *metav1.ObjectMeta) {
		if m.Namespace == "" {
			m.Namespace = v.namespace
		}
	}
	for i := range v.deployments {
		set(&v.deployments[i].ObjectMeta)
	}
	for i := range v.services {
		set(&v.services[i].ObjectMeta)
	}
	for i := range v.ingresses {
		set(&v.ingresses[i].ObjectMeta)
	}
	for i := range v.policies {
		set(&v.policies[i].ObjectMeta)
	}
	for i := range v.pdbs {
		set(&v.pdbs[i].ObjectMeta)
	}
}

func convert(u *unstructured.Unstructured, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}

func convertAppend[T any](u *unstructured.Unstructured, list *[]T) error {
	var x T
	if err := convert(u, &x); err != nil {
		return err
	}
	*list = append(*list, x)
	return nil
}

func (v *view) deployment(name string) *appsv1.Deployment {
	for i := range v.deployments {
		if v.deployments[i].Name == name {
			return &v.deployments[i]
		}
	}
	return nil
}

func (v *view) service(name string) *corev1.Service {
	for i := range v.services {
		if v.services[i].Name == name {
			return &v.services[i]
		}
	}
	return nil
}

// workload is one Deployment the model expects; d is nil when it is missing.
type workload struct {
	svc    traderx.Service
	colour string // blue-green services only
	name   string
	d      *appsv1.Deployment
}

// workloads returns every Deployment the model expects, in apply order.
func (v *view) workloads() []workload {
	var out []workload
	for _, s := range traderx.Services() {
		colours := []string{""}
		if s.BlueGreen {
			colours = traderx.Colours()
		}
		for _, c := range colours {
			name := s.DeploymentName(c)
			out = append(out, workload{svc: s, colour: c, name: name, d: v.deployment(name)})
		}
	}
	return out
}

// present returns the workloads whose Deployment exists.
func present(ws []workload) []workload {
	return slices.DeleteFunc(ws, func(w workload) bool { return w.d == nil })
}

// deploymentsInOrder returns every Deployment of the input: the model's in
// apply order, then any other by name. svc is nil for the others.
func (v *view) deploymentsInOrder() []modelled {
	var out []modelled
	known := map[string]bool{}
	for _, w := range present(v.workloads()) {
		s := w.svc
		out = append(out, modelled{d: w.d, svc: &s})
		known[w.name] = true
	}
	var rest []modelled
	for i := range v.deployments {
		if !known[v.deployments[i].Name] {
			rest = append(rest, modelled{d: &v.deployments[i]})
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].d.Name < rest[j].d.Name })
	return append(out, rest...)
}

// modelled is a Deployment of the input and, when the model knows it, its service.
type modelled struct {
	d   *appsv1.Deployment
	svc *traderx.Service
}

// activeColour is the colour the service's Service selects; the rendered
// default when the Service is missing or names no colour.
func (v *view) activeColour(s traderx.Service) string {
	if svc := v.service(s.Name); svc != nil {
		if c := svc.Spec.Selector[manifests.LabelColour]; c != "" {
			return c
		}
	}
	return manifests.ActiveColour
}

// active reports whether a workload receives the service's traffic.
func (v *view) active(w workload) bool {
	return !w.svc.BlueGreen || w.colour == v.activeColour(w.svc)
}

// mainContainer returns the container running the service: the one named
// after it, else the first.
func mainContainer(d *appsv1.Deployment, service string) *corev1.Container {
	cs := d.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == service {
			return &cs[i]
		}
	}
	if len(cs) > 0 {
		return &cs[0]
	}
	return nil
}

// selectsTemplate reports whether a Service-style selector matches a
// Deployment's pods; an empty selector matches nothing.
func selectsTemplate(sel map[string]string, d *appsv1.Deployment) bool {
	if len(sel) == 0 {
		return false
	}
	return labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels))
}

func (v *view) podsOf(d *appsv1.Deployment) []corev1.Pod {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	var out []corev1.Pod
	for _, p := range v.pods {
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// readyEndpoints counts a Service's ready endpoints as pkg/cluster does.
func (v *view) readyEndpoints(service string) int {
	n := 0
	for _, e := range v.slices {
		if e.Labels[discoveryv1.LabelServiceName] != service {
			continue
		}
		for _, ep := range e.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// hasPort reports whether a Service listens on port.
func hasPort(svc *corev1.Service, port int32) bool {
	return slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port })
}

// liveOnly is the SKIP of a live-only validation in an offline run.
func (v *view) liveOnly(suite, name, target, what string) []check.Check {
	return []check.Check{skip(suite, name, target, fmt.Sprintf("%s: %s exists only in a live cluster", v.offline, what))}
}
