package cluster

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func objects(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestFromObjects(t *testing.T) {
	s, err := FromObjects("traderx-dev", objects(t,
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: traderx-dev}",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: other}",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}}",
		"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: elsewhere}",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, labels: {app: web}}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}",
	))
	if err != nil {
		t.Fatal(err)
	}
	if s.NamespaceObject == nil || s.NamespaceObject.Name != "traderx-dev" {
		t.Errorf("namespace object = %v, want traderx-dev (another Namespace must not count)", s.NamespaceObject)
	}
	d := s.Deployment("web")
	if d == nil || d.Namespace != "traderx-dev" {
		t.Fatalf("deployment web = %v, want it defaulted into traderx-dev", d)
	}
	if got := s.Service("web"); got == nil || got.Namespace != "elsewhere" {
		t.Errorf("service web = %v, want its own namespace kept", got)
	}
	if n := len(s.PodsOf(d)); n != 1 {
		t.Errorf("pods of web = %d, want 1", n)
	}
}

func TestFromObjectsRejectsMalformed(t *testing.T) {
	_, err := FromObjects("ns", objects(t, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: many}"))
	if err == nil {
		t.Fatal("a Deployment with replicas: many converted without error")
	}
}

func TestPodsOfEmptySelectorOwnsNothing(t *testing.T) {
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "web"}}}
	s := &Snapshot{Pods: []corev1.Pod{pod}}
	for name, sel := range map[string]*metav1.LabelSelector{"nil": nil, "empty": {}} {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: sel}}
		if n := len(s.PodsOf(d)); n != 0 {
			t.Errorf("%s selector: %d pods, want 0", name, n)
		}
	}
}

func TestDesiredReplicasAndMainContainer(t *testing.T) {
	three := int32(3)
	tests := []struct {
		name       string
		replicas   *int32
		containers []string
		service    string
		want       int32
		main       string
	}{
		{"defaults to one", nil, []string{"sidecar", "web"}, "web", 1, "web"},
		{"explicit", &three, []string{"sidecar", "other"}, "web", 3, "sidecar"},
		{"no container", &three, nil, "web", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: tt.replicas}}
			for _, c := range tt.containers {
				d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: c})
			}
			if got := DesiredReplicas(d); got != tt.want {
				t.Errorf("DesiredReplicas = %d, want %d", got, tt.want)
			}
			got := ""
			if c := MainContainer(d, tt.service); c != nil {
				got = c.Name
			}
			if got != tt.main {
				t.Errorf("MainContainer = %q, want %q", got, tt.main)
			}
		})
	}
}
