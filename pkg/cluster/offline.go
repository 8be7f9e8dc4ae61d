package cluster

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// FromObjects builds the Snapshot a namespace would hold once objs were
// applied to it, so offline inputs (rendered units, a manifest file) are
// judged by the same code as a live namespace. Objects without a namespace
// land in namespace, as an apply would put them; a Namespace object counts
// only when it is namespace itself. Kinds a Snapshot does not hold are
// ignored. An object that does not convert to its typed form is an error.
func FromObjects(namespace string, objs []*unstructured.Unstructured) (*Snapshot, error) {
	s := &Snapshot{Namespace: namespace}
	for i, u := range objs {
		var err error
		switch u.GetKind() {
		case "Namespace":
			var ns corev1.Namespace
			if err = fromUnstructured(u, &ns); err == nil && ns.Name == namespace {
				s.NamespaceObject = &ns
			}
		case "Deployment":
			s.Deployments, err = appendTyped(s.Deployments, u, namespace)
		case "ReplicaSet":
			s.ReplicaSets, err = appendTyped(s.ReplicaSets, u, namespace)
		case "Pod":
			s.Pods, err = appendTyped(s.Pods, u, namespace)
		case "Service":
			s.Services, err = appendTyped(s.Services, u, namespace)
		case "EndpointSlice":
			s.EndpointSlices, err = appendTyped(s.EndpointSlices, u, namespace)
		case "Ingress":
			s.Ingresses, err = appendTyped(s.Ingresses, u, namespace)
		case "NetworkPolicy":
			s.NetworkPolicies, err = appendTyped(s.NetworkPolicies, u, namespace)
		case "PodDisruptionBudget":
			s.PodDisruptionBudgets, err = appendTyped(s.PodDisruptionBudgets, u, namespace)
		}
		if err != nil {
			return nil, fmt.Errorf("object %d (%s %s): %w", i+1, u.GetKind(), u.GetName(), err)
		}
	}
	return s, nil
}

func fromUnstructured(u *unstructured.Unstructured, out any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out)
}

// appendTyped converts u into T, defaulting its namespace.
func appendTyped[T any, P interface {
	*T
	metav1.Object
}](list []T, u *unstructured.Unstructured, namespace string) ([]T, error) {
	var x T
	if err := fromUnstructured(u, &x); err != nil {
		return list, err
	}
	if p := P(&x); p.GetNamespace() == "" {
		p.SetNamespace(namespace)
	}
	return append(list, x), nil
}

// DesiredReplicas is a Deployment's spec.replicas with the API's default of
// one when unset.
func DesiredReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// MainContainer is the container running service in d: the one named after
// the service, else the first; nil when the pod template has none.
func MainContainer(d *appsv1.Deployment, service string) *corev1.Container {
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
