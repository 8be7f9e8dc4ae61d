package validate

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/finos/traderx-plugins/pkg/check"
	"github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/traderx"
)

// snapshotOf builds, without a cluster, the live picture of rendered objects
// that the live-only validations read: their Namespace (Active) and their
// Deployments, each with one running pod per replica.
func snapshotOf(t *testing.T, env traderx.Environment, objs []*unstructured.Unstructured) *cluster.Snapshot {
	t.Helper()
	s, err := cluster.FromObjects(env.Namespace(), objs)
	if err != nil {
		t.Fatal(err)
	}
	s.NamespaceObject.Status.Phase = corev1.NamespaceActive
	for _, d := range s.Deployments {
		for i := range *d.Spec.Replicas {
			s.Pods = append(s.Pods, corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", d.Name, i), Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning},
			})
		}
	}
	return s
}

// The live-only validations of 03 and 14 fail on the live state they judge;
// the unmutated snapshot passes them, so each case can fail both ways.
func TestLiveOnlyValidationsFail(t *testing.T) {
	tests := []struct {
		name                 string
		mutate               func(*cluster.Snapshot)
		suite, check, target string
		wantStatus           check.Status
		wantMessage          string
	}{
		{"namespace active", func(*cluster.Snapshot) {}, SuiteNamespace, "active", "namespace/traderx-dev", check.StatusPass, "phase Active"},
		{"namespace terminating", func(s *cluster.Snapshot) {
			s.NamespaceObject.Status.Phase = corev1.NamespaceTerminating
		}, SuiteNamespace, "active", "namespace/traderx-dev", check.StatusFail, "phase Terminating: nothing new can be created in it"},
		{"no failed pods", func(*cluster.Snapshot) {}, SuitePods, "no-failed-pods", "deployment/people-service", check.StatusPass, "1 pods, none failed"},
		{"an evicted pod", func(s *cluster.Snapshot) {
			for i := range s.Pods {
				if strings.HasPrefix(s.Pods[i].Name, "people-service-") {
					s.Pods[i].Status.Phase, s.Pods[i].Status.Reason = corev1.PodFailed, "Evicted"
				}
			}
		}, SuitePods, "no-failed-pods", "deployment/people-service", check.StatusFail, "failed: people-service-0 (Evicted)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, objs := rendered(t, "dev")
			s := snapshotOf(t, env, objs)
			tt.mutate(s)
			r := runWith(t, Input{Env: env, Snapshot: s, ConfigHub: ConfigHubSkipped(NoCredentialsReason)})
			got := find(r, tt.suite, tt.check, tt.target)
			if len(got) != 1 {
				t.Fatalf("%d %s %s checks on %s, want 1; failures:\n%s", len(got), tt.suite, tt.check, tt.target, bad(r))
			}
			c := got[0]
			if c.Status != tt.wantStatus || !strings.Contains(c.Message, tt.wantMessage) {
				t.Errorf("%s %s %s: %s %q, want %s containing %q", c.Suite, c.Name, c.Target, c.Status, c.Message, tt.wantStatus, tt.wantMessage)
			}
			if c.Status == check.StatusFail && c.Hint == "" {
				t.Errorf("%s %s %s fails without a hint", c.Suite, c.Name, c.Target)
			}
		})
	}
}
