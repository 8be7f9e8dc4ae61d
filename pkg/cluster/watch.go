package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Watcher keeps the Snapshot of a namespace current: one LIST per kind to
// fill its caches, then one WATCH per kind (client-go informers), so a
// re-evaluation reads memory, not the API server. Only the namespace itself
// is read again (a GET per Snapshot): the viewer role may get it, not list
// or watch namespaces.
type Watcher struct {
	client    kubernetes.Interface
	namespace string
	changed   chan struct{}
	sources   []watched
}

// watched is one kind: its informer and how its cache fills a Snapshot.
type watched struct {
	resource string
	informer cache.SharedIndexInformer
	fill     func(s *Snapshot, objs []any)
}

// Watch starts watching a namespace and returns once every kind is listed.
// The watches stop when ctx ends. A kind that cannot be listed or watched
// (forbidden, unreachable) is an error, explained as Take explains it.
func Watch(ctx context.Context, c kubernetes.Interface, namespace string) (*Watcher, error) {
	w := &Watcher{client: c, namespace: namespace, changed: make(chan struct{}, 1)}
	// An unreachable or refusing cluster fails here at once, with the
	// explanation Take gives; informers would only retry.
	if _, err := w.Snapshot(ctx); err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(namespace),
		informers.WithTransform(dropManagedFields))
	w.sources = []watched{
		{"deployments", f.Apps().V1().Deployments().Informer(), func(s *Snapshot, objs []any) { s.Deployments = items[appsv1.Deployment](objs) }},
		{"replicasets", f.Apps().V1().ReplicaSets().Informer(), func(s *Snapshot, objs []any) { s.ReplicaSets = items[appsv1.ReplicaSet](objs) }},
		{"pods", f.Core().V1().Pods().Informer(), func(s *Snapshot, objs []any) { s.Pods = items[corev1.Pod](objs) }},
		{"services", f.Core().V1().Services().Informer(), func(s *Snapshot, objs []any) { s.Services = items[corev1.Service](objs) }},
		{"endpointslices", f.Discovery().V1().EndpointSlices().Informer(), func(s *Snapshot, objs []any) {
			s.EndpointSlices = items[discoveryv1.EndpointSlice](objs)
		}},
		{"ingresses", f.Networking().V1().Ingresses().Informer(), func(s *Snapshot, objs []any) { s.Ingresses = items[networkingv1.Ingress](objs) }},
		{"networkpolicies", f.Networking().V1().NetworkPolicies().Informer(), func(s *Snapshot, objs []any) {
			s.NetworkPolicies = items[networkingv1.NetworkPolicy](objs)
		}},
		{"poddisruptionbudgets", f.Policy().V1().PodDisruptionBudgets().Informer(), func(s *Snapshot, objs []any) {
			s.PodDisruptionBudgets = items[policyv1.PodDisruptionBudget](objs)
		}},
	}
	failed := make(chan error, len(w.sources))
	notify := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.notify() },
		UpdateFunc: func(any, any) { w.notify() },
		DeleteFunc: func(any) { w.notify() },
	}
	for _, src := range w.sources {
		if _, err := src.informer.AddEventHandler(notify); err != nil {
			return nil, fmt.Errorf("watch %s: %w", src.resource, err)
		}
		// The informer would retry for ever; the first failure ends the start.
		if err := src.informer.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			select {
			case failed <- Explain(err, "list and watch", src.resource, namespace):
			default:
			}
		}); err != nil {
			return nil, fmt.Errorf("watch %s: %w", src.resource, err)
		}
	}
	f.Start(ctx.Done())
	synced := make(chan bool, 1)
	go func() {
		var fns []cache.InformerSynced
		for _, src := range w.sources {
			fns = append(fns, src.informer.HasSynced)
		}
		synced <- cache.WaitForCacheSync(ctx.Done(), fns...)
	}()
	select {
	case ok := <-synced:
		if !ok {
			return nil, fmt.Errorf("listing namespace %s: %w", namespace, context.Cause(ctx))
		}
	case err := <-failed:
		return nil, err
	}
	return w, nil
}

// dropManagedFields is the informers' transform: the caches keep objects
// without the field-ownership records, as Take does.
func dropManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// notify records a change without blocking: one pending signal stands for
// any number of changes.
func (w *Watcher) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// Changed signals after the watched objects changed.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// Snapshot builds a Snapshot from the caches, with the namespace read now.
func (w *Watcher) Snapshot(ctx context.Context) (*Snapshot, error) {
	s := &Snapshot{Namespace: w.namespace, TakenAt: time.Now()}
	ns, err := w.client.CoreV1().Namespaces().Get(ctx, w.namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return s, nil
	case err != nil:
		return nil, Explain(err, "get", "namespaces", w.namespace)
	}
	s.NamespaceObject = ns
	for _, src := range w.sources {
		src.fill(s, src.informer.GetStore().List())
	}
	return s, nil
}

// items copies cached objects in name order, as a LIST returns them.
func items[T any, P interface {
	*T
	metav1.Object
}](objs []any) []T {
	ptrs := make([]P, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(P); ok {
			ptrs = append(ptrs, p)
		}
	}
	slices.SortFunc(ptrs, func(a, b P) int { return strings.Compare(a.GetName(), b.GetName()) })
	out := make([]T, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}
