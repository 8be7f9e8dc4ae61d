package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// SimulationLabel on a pod template selects one of our kwok stages
// (stages/traderx-simulations.yaml).
const SimulationLabel = "sim.traderx.finos.org/state"

// Pod states on demand.
const (
	SimCrashLoop      = "crashloop"        // Running, 0/1, CrashLoopBackOff, restarts rising
	SimImagePullError = "image-pull-error" // Pending, ImagePullBackOff
	SimOOMKilled      = "oomkilled"        // Running and ready, last state OOMKilled, 1 restart
)

// FailedPodLabel is kwok's own chaos stage: the container exits 1 and the pod
// phase becomes Failed (the ReplicaSet then replaces it).
const FailedPodLabel = "pod-container-running-failed.stage.kwok.x-k8s.io"

// MarkPodNotReady makes a running pod 0/1 not ready, as a failing readiness
// probe would; kwok leaves it so because no stage matches a Running pod. The
// status patch replaces containerStatuses whole, so every field is sent.
func MarkPodNotReady(ctx context.Context, c kubernetes.Interface, ns, name string) error {
	pod, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.NewTime(time.Now())
	var statuses []corev1.ContainerStatus
	for _, ct := range pod.Spec.Containers {
		started := true
		statuses = append(statuses, corev1.ContainerStatus{
			Name: ct.Name, Image: ct.Image, ImageID: ct.Image, Ready: false, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	patch := map[string]any{"status": map[string]any{
		"conditions": []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now},
		},
		"containerStatuses": statuses,
	}}
	data, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = c.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, data, metav1.PatchOptions{}, "status")
	return err
}

// WaitDeploymentsAvailable waits until every Deployment in ns has all its
// replicas updated and available for its current generation.
func WaitDeploymentsAvailable(ctx context.Context, c kubernetes.Interface, ns string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, d := range list.Items {
			if !DeploymentComplete(&d) {
				last = fmt.Sprintf("deployment %s: %d/%d available, %d updated", d.Name, d.Status.AvailableReplicas, replicas(&d), d.Status.UpdatedReplicas)
				return false, nil
			}
		}
		return len(list.Items) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("deployments in %s not available after %s: %s", ns, timeout, last)
	}
	return nil
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// DeploymentComplete reports whether the rollout of d's current spec is done.
func DeploymentComplete(d *appsv1.Deployment) bool {
	want := replicas(d)
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == want && d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

// WaitPods waits until the pods matching selector in ns satisfy cond.
func WaitPods(ctx context.Context, c kubernetes.Interface, ns, selector string, timeout time.Duration, cond func([]corev1.Pod) bool) ([]corev1.Pod, error) {
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		pods = list.Items
		return cond(pods), nil
	})
	return pods, err
}
