package cub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
