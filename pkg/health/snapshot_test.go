package health

import (
	"context"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/finos/traderx-plugins/pkg/cluster"
)

// Snapshot lists only TraderX's pods, yet judges exactly as a full snapshot
// does, also when a live Deployment selects its pods otherwise.
func TestSnapshotListsTraderXPodsOnly(t *testing.T) {
	filler := func(s *cluster.Snapshot) {
		d := s.Deployments[0]
		d.Name, d.Labels = "filler", map[string]string{"app": "filler"}
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "filler"}}
		d.Spec.Template.Labels = map[string]string{"app": "filler"}
		s.Deployments = append(s.Deployments, d)
		for i := range int32(3) {
			p := readyPod(d, i)
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			s.Pods = append(s.Pods, p)
		}
	}
	tests := []struct {
		name string
		edit func(s *cluster.Snapshot)
		// wantPods is how many pods the snapshot holds.
		wantPods int
	}{
		{name: "TraderX alone", edit: func(*cluster.Snapshot) {}, wantPods: 9},
		{name: "beside other workloads", edit: filler, wantPods: 9},
		{name: "a Deployment selecting without the app label", edit: func(s *cluster.Snapshot) {
			filler(s)
			// people-service now selects a pod that has no app label.
			for i := range s.Deployments {
				if d := &s.Deployments[i]; d.Name == "people-service" {
					d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"role": "people"}}
				}
			}
			for i := range s.Pods {
				if p := &s.Pods[i]; p.Labels["app"] == "people-service" {
					p.Labels = map[string]string{"role": "people"}
				}
			}
		}, wantPods: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, env := healthySnapshot(t, "dev")
			tt.edit(want)
			var objs []runtime.Object
			objs = append(objs, want.NamespaceObject)
			for i := range want.Deployments {
				objs = append(objs, &want.Deployments[i])
			}
			for i := range want.Pods {
				objs = append(objs, &want.Pods[i])
			}
			for i := range want.Services {
				objs = append(objs, &want.Services[i])
			}
			for i := range want.EndpointSlices {
				objs = append(objs, &want.EndpointSlices[i])
			}
			for i := range want.Ingresses {
				objs = append(objs, &want.Ingresses[i])
			}
			c := fake.NewClientset(objs...)
			ctx := context.Background()
			got, err := Snapshot(ctx, c, env)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Pods) != tt.wantPods {
				t.Errorf("listed %d pods, want %d", len(got.Pods), tt.wantPods)
			}
			full, err := cluster.Take(ctx, c, env.Namespace())
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Now: fixtureTime}
			if r, wantR := Evaluate(got, env, o), Evaluate(full, env, o); !reflect.DeepEqual(r.Checks, wantR.Checks) {
				t.Errorf("the report differs from a full snapshot's:\n%+v\nwant\n%+v", r.Checks, wantR.Checks)
			}
		})
	}
}
