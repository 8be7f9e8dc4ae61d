package validate

import (
	"fmt"
	"slices"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// view is the one typed picture every suite reads: a pkg/cluster Snapshot,
// taken live or built from offline objects, and what else the run knows.
type view struct {
	*cluster.Snapshot
	env  traderx.Environment
	live bool
	// offline is why live-only validations SKIP (offline runs only).
	offline string
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
		v.Snapshot = s
		if s.NamespaceObject != nil {
			v.objects = append(v.objects, object{kind: "Namespace", name: s.NamespaceObject.Name, labels: s.NamespaceObject.Labels})
		}
		add := func(kind string, m metav1.ObjectMeta) {
			v.objects = append(v.objects, object{kind: kind, name: m.Name, namespace: m.Namespace, labels: m.Labels, namespaced: true})
		}
		for _, d := range s.Deployments {
			add("Deployment", d.ObjectMeta)
		}
		for _, x := range s.Services {
			add("Service", x.ObjectMeta)
		}
		for _, x := range s.Ingresses {
			add("Ingress", x.ObjectMeta)
		}
		for _, x := range s.NetworkPolicies {
			add("NetworkPolicy", x.ObjectMeta)
		}
		for _, x := range s.PodDisruptionBudgets {
			add("PodDisruptionBudget", x.ObjectMeta)
		}
		return v, nil
	}

	v.offline = in.OfflineReason
	if v.offline == "" {
		v.offline = "offline validation of manifests"
	}
	for _, u := range in.Objects {
		kind := u.GetKind()
		v.objects = append(v.objects, object{kind: kind, name: u.GetName(), namespace: u.GetNamespace(),
			labels: u.GetLabels(), namespaced: kind != "Namespace"})
	}
	s, err := cluster.FromObjects(in.Env.Namespace(), in.Objects)
	if err != nil {
		return nil, err
	}
	v.Snapshot = s
	return v, nil
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
			out = append(out, workload{svc: s, colour: c, name: name, d: v.Deployment(name)})
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
	for i := range v.Deployments {
		if !known[v.Deployments[i].Name] {
			rest = append(rest, modelled{d: &v.Deployments[i]})
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
	if svc := v.Service(s.Name); svc != nil {
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

// selectsTemplate reports whether a Service-style selector matches a
// Deployment's pods; an empty selector matches nothing.
func selectsTemplate(sel map[string]string, d *appsv1.Deployment) bool {
	if len(sel) == 0 {
		return false
	}
	return labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels))
}

// hasPort reports whether a Service listens on port.
func hasPort(svc *corev1.Service, port int32) bool {
	return slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port })
}

// liveOnly is the SKIP of a live-only validation in an offline run.
func (v *view) liveOnly(suite, name, target, what string) []check.Check {
	return []check.Check{skip(suite, name, target, fmt.Sprintf("%s: %s exists only in a live cluster", v.offline, what))}
}
