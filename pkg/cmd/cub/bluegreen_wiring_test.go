package cub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// clusterOf is an Env.Cluster that serves objects as the cluster of every
// environment and records which environments were asked for.
func clusterOf(asked *[]string, objs ...runtime.Object) func(context.Context, traderx.Environment) (kubernetes.Interface, error) {
	return func(_ context.Context, env traderx.Environment) (kubernetes.Interface, error) {
		*asked = append(*asked, env.Name)
		return fake.NewClientset(objs...), nil
	}
}

// The blue-green commands read the cluster through Env.Cluster, for the
// environment they work on: status shows what the live Service selects and
// each colour's live Deployment without a control plane; a cluster that
// cannot be read stops a switch before anything is written.
func TestBlueGreenReadsTheInjectedCluster(t *testing.T) {
	h := newHarness(t, false)
	if r := h.run("", "install", "--envs", "dev"); r.code != 0 {
		t.Fatalf("install: %s", r)
	}
	ns := "traderx-dev"
	replicas := int32(1)
	blue := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "reference-data-blue", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: bgService, Image: "ghcr.io/finos/traderx/reference-data:live"}}}}},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 1, AvailableReplicas: 1, Replicas: 1}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: bgService, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{manifests.LabelApp: bgService, manifests.LabelColour: "blue"}}}
	var asked []string
	h.cluster = clusterOf(&asked, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, blue, svc)

	r := h.run("", "blue-green", "status", bgService, "dev")
	if r.code != 0 {
		t.Fatalf("status: %s", r)
	}
	golden(t, "bluegreen-status.table.golden", r.stdout)
	if !slices.Equal(asked, []string{"dev"}) {
		t.Errorf("cluster asked for %v, want [dev]", asked)
	}

	h.cluster = func(context.Context, traderx.Environment) (kubernetes.Interface, error) {
		return nil, errors.New("no route to the dev cluster")
	}
	mut := h.mutations()
	r = h.run("", "blue-green", bgService, "1.0.0", "dev")
	if r.code == 0 || !strings.Contains(r.stderr, "no route to the dev cluster") || h.mutations() != mut {
		t.Errorf("unreadable cluster: %s (%d mutations)", r, h.mutations()-mut)
	}
}

// servingBlue is a cluster where reference-data runs one ready blue pod
// behind its Service and green has no Deployment: what abort keeps.
func servingBlue() []runtime.Object {
	const ns = "traderx-dev"
	one, yes := int32(1), true
	labels := map[string]string{manifests.LabelApp: bgService, manifests.LabelColour: "blue"}
	blue := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "reference-data-blue", Namespace: ns, Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: bgService, Image: "ghcr.io/finos/traderx/reference-data:latest"}}}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reference-data-blue-1", Namespace: ns, Labels: labels},
		Spec: blue.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: bgService, Ready: true}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: bgService, Namespace: ns}, Spec: corev1.ServiceSpec{Selector: labels}}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: bgService + "-1", Namespace: ns,
		Labels: map[string]string{discoveryv1.LabelServiceName: bgService}},
		Endpoints: []discoveryv1.Endpoint{{TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: pod.Name},
			Conditions: discoveryv1.EndpointConditions{Ready: &yes}}}}
	return []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, blue, pod, svc, slice}
}

// abort's wiring without a control plane: prod refuses without --yes
// before reading anything; in dev, on a cluster already consistent, abort
// keeps the colour that serves and says so.
func TestBlueGreenAbortOnAFakeCluster(t *testing.T) {
	h := installedApplied(t, "dev,staging,prod")
	var asked []string
	h.cluster = clusterOf(&asked, servingBlue()...)
	mut := h.mutations()
	r := h.run("", "blue-green", "abort", bgService, "prod")
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") || h.mutations() != mut || len(asked) != 0 {
		t.Errorf("prod without --yes: %s (%d mutations, cluster asked for %v)", r, h.mutations()-mut, asked)
	}
	r = h.run("", "blue-green", "abort", bgService, "dev", "--timeout", "5s")
	if r.code != 0 {
		t.Fatalf("abort: %s", r)
	}
	golden(t, "bluegreen-abort.golden", r.stdout)
	if !slices.Equal(asked, []string{"dev"}) {
		t.Errorf("cluster asked for %v, want [dev]", asked)
	}
}
