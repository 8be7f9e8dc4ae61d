//go:build bench

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/finos/traderx-plugins/test/cluster"
)

const namespace = "traderx-dev"

// fill adds filler Deployments to traderx-dev until it holds deployments
// Deployments and pods running pods, and waits for them: the load health
// has to read through, beside TraderX's own objects.
func fill(t *testing.T, ctx context.Context, c *cluster.Cluster, deployments, pods int) {
	t.Helper()
	have, err := c.Client.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fillers := deployments - len(have.Items)
	running := runningPods(t, ctx, c)
	if fillers <= 0 || pods-running < fillers {
		t.Fatalf("cannot reach %d Deployments / %d pods from %d / %d with one pod or more per filler", deployments, pods, len(have.Items), running)
	}
	each, extra := (pods-running)/fillers, (pods-running)%fillers
	for i := range fillers {
		replicas := int32(each)
		if i < extra {
			replicas++
		}
		name := fmt.Sprintf("filler-%03d", i)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example/filler:1"}}},
				},
			},
		}
		if _, err := c.Client.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
		n := runningPods(t, ctx, c)
		t.Logf("%d/%d pods running (%s)", n, pods, time.Since(start).Round(time.Second))
		return n >= pods, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runningPods counts the pods of the namespace that run and are not going away.
func runningPods(t *testing.T, ctx context.Context, c *cluster.Cluster) int {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("list pods: %v", err)
		return 0
	}
	n := 0
	for _, p := range list.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}
