// Package cluster is the plugins' read-only access to Kubernetes: clients
// built from cli-runtime ConfigFlags behind a transport that refuses every
// write, and a Snapshot of one namespace taken with one LIST per kind.
package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// Snapshot is what one namespace held at one moment. Checks evaluate a
// Snapshot, never the API server directly, so a run costs one LIST per kind
// however many services there are, and every check sees the same state.
type Snapshot struct {
	Namespace string
	// NamespaceObject is nil when the namespace does not exist; the lists are
	// then empty.
	NamespaceObject      *corev1.Namespace
	Deployments          []appsv1.Deployment
	ReplicaSets          []appsv1.ReplicaSet
	Pods                 []corev1.Pod
	Services             []corev1.Service
	EndpointSlices       []discoveryv1.EndpointSlice
	Ingresses            []networkingv1.Ingress
	NetworkPolicies      []networkingv1.NetworkPolicy
	PodDisruptionBudgets []policyv1.PodDisruptionBudget
	TakenAt              time.Time
}

// Take reads a namespace: a GET of the namespace, then the lists in parallel.
func Take(ctx context.Context, c kubernetes.Interface, namespace string) (*Snapshot, error) {
	return TakeSelected(ctx, c, namespace, labels.Everything())
}

// TakeSelected is Take listing only the pods and ReplicaSets that pods
// selects (ReplicaSets carry their pods' template labels): in a namespace
// shared with other workloads, the pods are most of what a LIST returns, and
// a reader that judges some Deployments needs only theirs.
func TakeSelected(ctx context.Context, c kubernetes.Interface, namespace string, pods labels.Selector) (*Snapshot, error) {
	s := &Snapshot{Namespace: namespace, TakenAt: time.Now()}
	selected := metav1.ListOptions{LabelSelector: pods.String()}
	ns, err := c.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return s, nil
	case err != nil:
		return nil, Explain(err, "get", "namespaces", namespace)
	}
	s.NamespaceObject = ns

	lists := []struct {
		resource string
		list     func() error
	}{
		{"deployments", func() error {
			l, err := c.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				s.Deployments = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"replicasets", func() error {
			l, err := c.AppsV1().ReplicaSets(namespace).List(ctx, selected)
			if err == nil {
				s.ReplicaSets = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"pods", func() error {
			l, err := c.CoreV1().Pods(namespace).List(ctx, selected)
			if err == nil {
				s.Pods = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"services", func() error {
			l, err := c.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				s.Services = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"endpointslices", func() error {
			l, err := c.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				s.EndpointSlices = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"ingresses", func() error {
			l, err := c.NetworkingV1().Ingresses(namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				s.Ingresses = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"networkpolicies", func() error {
			l, err := c.NetworkingV1().NetworkPolicies(namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				s.NetworkPolicies = withoutManagedFields(l.Items)
			}
			return err
		}},
		{"poddisruptionbudgets", func() error {
			l, err := c.PolicyV1().PodDisruptionBudgets(namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				s.PodDisruptionBudgets = withoutManagedFields(l.Items)
			}
			return err
		}},
	}
	errs := make([]error, len(lists))
	var wg sync.WaitGroup
	for i, l := range lists {
		wg.Go(func() {
			if err := l.list(); err != nil {
				errs[i] = Explain(err, "list", l.resource, namespace)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// withoutManagedFields clears the field-ownership records the API server
// keeps on every object. No check reads them, and they are a large part of
// a pod's size, held for as long as the Snapshot lives.
func withoutManagedFields[T any, P interface {
	*T
	metav1.Object
}](items []T) []T {
	for i := range items {
		P(&items[i]).SetManagedFields(nil)
	}
	return items
}

// NamespaceActive reports whether the namespace exists and is Active.
func (s *Snapshot) NamespaceActive() bool {
	return s.NamespaceObject != nil && s.NamespaceObject.Status.Phase == corev1.NamespaceActive
}

// Deployment returns the named Deployment or nil.
func (s *Snapshot) Deployment(name string) *appsv1.Deployment {
	for i := range s.Deployments {
		if s.Deployments[i].Name == name {
			return &s.Deployments[i]
		}
	}
	return nil
}

// Service returns the named Service or nil.
func (s *Snapshot) Service(name string) *corev1.Service {
	for i := range s.Services {
		if s.Services[i].Name == name {
			return &s.Services[i]
		}
	}
	return nil
}

// Ingress returns the named Ingress or nil.
func (s *Snapshot) Ingress(name string) *networkingv1.Ingress {
	for i := range s.Ingresses {
		if s.Ingresses[i].Name == name {
			return &s.Ingresses[i]
		}
	}
	return nil
}

// PodsOf returns the pods a Deployment's selector matches. An empty or
// invalid selector matches none: apps/v1 rejects an empty one, so a
// Deployment showing it (an offline manifest) owns no pod, not every pod.
func (s *Snapshot) PodsOf(d *appsv1.Deployment) []corev1.Pod {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	return s.PodsMatching(sel)
}

// PodsMatching returns the pods a selector matches.
func (s *Snapshot) PodsMatching(sel labels.Selector) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range s.Pods {
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// EndpointSlicesOf returns the EndpointSlices the control plane maintains for
// a Service.
func (s *Snapshot) EndpointSlicesOf(service string) []discoveryv1.EndpointSlice {
	var out []discoveryv1.EndpointSlice
	for _, e := range s.EndpointSlices {
		if e.Labels[discoveryv1.LabelServiceName] == service {
			out = append(out, e)
		}
	}
	return out
}

// ReadyEndpoints counts the ready endpoints of a Service (an endpoint with no
// Ready condition counts as ready, as the API documents).
func (s *Snapshot) ReadyEndpoints(service string) int {
	n := 0
	for _, e := range s.EndpointSlicesOf(service) {
		for _, ep := range e.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}

// String summarises the snapshot for debug logs.
func (s *Snapshot) String() string {
	return fmt.Sprintf("namespace %s: %d deployments, %d replicasets, %d pods, %d services, %d endpointslices, %d ingresses",
		s.Namespace, len(s.Deployments), len(s.ReplicaSets), len(s.Pods), len(s.Services), len(s.EndpointSlices), len(s.Ingresses))
}
