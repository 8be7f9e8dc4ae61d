package cluster

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testCluster *Cluster

func TestMain(m *testing.M) { Exit(Main(m, &testCluster, Options{Users: []string{"viewer"}})) }

func deployment(name string, replicas int32, podLabels map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	for k, v := range podLabels {
		labels[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example/" + name + ":1"}}},
			},
		},
	}
}

func create(t *testing.T, c *Cluster, ns string, d *appsv1.Deployment) {
	t.Helper()
	if _, err := c.Client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	c := Require(t, testCluster)
	ns := c.Namespace(t)
	create(t, c, ns, deployment("web", 2, nil))
	if err := WaitDeploymentsAvailable(context.Background(), c.Client, ns, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestSimulatedPodStates(t *testing.T) {
	c := Require(t, testCluster)
	ctx := context.Background()
	tests := []struct {
		name   string
		labels map[string]string
		cond   func(corev1.Pod) bool
	}{
		{"crashloop", map[string]string{SimulationLabel: SimCrashLoop}, func(p corev1.Pod) bool {
			s := p.Status.ContainerStatuses
			return len(s) == 1 && s[0].State.Waiting != nil && s[0].State.Waiting.Reason == "CrashLoopBackOff" && s[0].RestartCount >= 2
		}},
		{"image-pull", map[string]string{SimulationLabel: SimImagePullError}, func(p corev1.Pod) bool {
			s := p.Status.ContainerStatuses
			return p.Status.Phase == corev1.PodPending && len(s) == 1 && s[0].State.Waiting != nil && s[0].State.Waiting.Reason == "ImagePullBackOff"
		}},
		{"oomkilled", map[string]string{SimulationLabel: SimOOMKilled}, func(p corev1.Pod) bool {
			s := p.Status.ContainerStatuses
			return len(s) == 1 && s[0].LastTerminationState.Terminated != nil && s[0].LastTerminationState.Terminated.Reason == "OOMKilled" && s[0].RestartCount == 1
		}},
		{"failed", map[string]string{FailedPodLabel: "true"}, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodFailed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := c.Namespace(t)
			create(t, c, ns, deployment("sim", 1, tt.labels))
			_, err := WaitPods(ctx, c.Client, ns, "app=sim", 45*time.Second, func(pods []corev1.Pod) bool {
				for _, p := range pods {
					if tt.cond(p) {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatalf("no pod reached the %s state: %v", tt.name, err)
			}
		})
	}
}

func TestMarkPodNotReady(t *testing.T) {
	c := Require(t, testCluster)
	ctx := context.Background()
	ns := c.Namespace(t)
	create(t, c, ns, deployment("nr", 1, nil))
	if err := WaitDeploymentsAvailable(ctx, c.Client, ns, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods: %v %d", err, len(pods.Items))
	}
	if err := MarkPodNotReady(ctx, c.Client, ns, pods.Items[0].Name); err != nil {
		t.Fatal(err)
	}
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "nr", metav1.GetOptions{})
	for i := 0; err == nil && d.Status.AvailableReplicas != 0 && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		d, err = c.Client.AppsV1().Deployments(ns).Get(ctx, "nr", metav1.GetOptions{})
	}
	if err != nil || d.Status.AvailableReplicas != 0 {
		t.Fatalf("deployment still available after the pod went not-ready: %v %+v", err, d.Status)
	}
}

func TestRestartAPIServer(t *testing.T) {
	c := Require(t, testCluster)
	ctx := context.Background()
	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	// Workloads keep working through the restart.
	ns := c.Namespace(t)
	create(t, c, ns, deployment("after-restart", 1, nil))
	if err := WaitDeploymentsAvailable(ctx, c.Client, ns, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}
