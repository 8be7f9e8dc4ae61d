package health

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// fixtureTime pins "now" so reports are byte-stable.
var fixtureTime = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

// healthySnapshot builds, without a cluster, the snapshot of a fully rolled
// out environment: every Deployment complete, every pod ready, every Service
// with ready endpoints.
func healthySnapshot(t testing.TB, envName string) (*cluster.Snapshot, traderx.Environment) {
	t.Helper()
	env, err := traderx.LookupEnvironment(envName)
	if err != nil {
		t.Fatal(err)
	}
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	s := &cluster.Snapshot{Namespace: env.Namespace(), TakenAt: fixtureTime}
	for _, o := range manifests.Objects(units) {
		switch o.GetKind() {
		case "Namespace":
			ns := &corev1.Namespace{}
			fromUnstructured(t, o.Object, ns)
			ns.Status.Phase = corev1.NamespaceActive
			s.NamespaceObject = ns
		case "Deployment":
			var d appsv1.Deployment
			fromUnstructured(t, o.Object, &d)
			d.Generation, d.Status.ObservedGeneration = 1, 1
			n := *d.Spec.Replicas
			d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = n, n, n, n
			d.Status.Conditions = []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			}
			s.Deployments = append(s.Deployments, d)
			for i := range n {
				s.Pods = append(s.Pods, readyPod(d, i))
			}
		case "Service":
			var svc corev1.Service
			fromUnstructured(t, o.Object, &svc)
			s.Services = append(s.Services, svc)
		case "Ingress":
			var ing networkingv1.Ingress
			fromUnstructured(t, o.Object, &ing)
			s.Ingresses = append(s.Ingresses, ing)
		}
	}
	for _, svc := range s.Services {
		s.EndpointSlices = append(s.EndpointSlices, sliceFor(s, svc))
	}
	return s, env
}

func fromUnstructured(t testing.TB, obj map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into); err != nil {
		t.Fatal(err)
	}
}

func readyPod(d appsv1.Deployment, i int32) corev1.Pod {
	started := true
	start := metav1.NewTime(fixtureTime.Add(-time.Hour))
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", d.Name, i), Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
		Spec:       d.Spec.Template.Spec,
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			StartTime:  &start,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: d.Spec.Template.Spec.Containers[0].Name, Image: d.Spec.Template.Spec.Containers[0].Image,
				Ready: true, Started: &started, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
			}},
		},
	}
}

// sliceFor derives the EndpointSlice the control plane would maintain.
func sliceFor(s *cluster.Snapshot, svc corev1.Service) discoveryv1.EndpointSlice {
	es := discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-x", Namespace: svc.Namespace,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}}}
	for _, p := range s.Pods {
		match := true
		for k, v := range svc.Spec.Selector {
			if p.Labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		ready := isReady(p)
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.244.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: p.Name, Namespace: p.Namespace}})
	}
	return es
}

// refreshEndpoints recomputes the slices after a test changed pods or Services.
func refreshEndpoints(s *cluster.Snapshot) {
	s.EndpointSlices = nil
	for _, svc := range s.Services {
		s.EndpointSlices = append(s.EndpointSlices, sliceFor(s, svc))
	}
}
