package cluster

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

// Snapshots hold objects without their managedFields (no check reads them;
// they are a large part of every object), and with everything else.
func TestSnapshotDropsManagedFields(t *testing.T) {
	takes := map[string]func(context.Context, kubernetes.Interface) (*Snapshot, error){
		"Take": func(ctx context.Context, c kubernetes.Interface) (*Snapshot, error) { return Take(ctx, c, "ns") },
		"Watcher": func(ctx context.Context, c kubernetes.Interface) (*Snapshot, error) {
			w, err := Watch(ctx, c, "ns")
			if err != nil {
				return nil, err
			}
			return w.Snapshot(ctx)
		},
	}
	for name, take := range takes {
		t.Run(name, func(t *testing.T) {
			managed := []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate}}
			c := fake.NewClientset(
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
				&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "a"}, ManagedFields: managed},
					Status: corev1.PodStatus{Phase: corev1.PodRunning}},
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns", ManagedFields: managed}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := take(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Pods) != 1 || len(s.Services) != 1 {
				t.Fatalf("snapshot: %s", s)
			}
			p := s.Pods[0]
			if p.ManagedFields != nil || s.Services[0].ManagedFields != nil {
				t.Errorf("managedFields kept: pod %v, service %v", p.ManagedFields, s.Services[0].ManagedFields)
			}
			if p.Labels["app"] != "a" || p.Status.Phase != corev1.PodRunning {
				t.Errorf("the pod lost more than its managedFields: %+v", p)
			}
		})
	}
}
