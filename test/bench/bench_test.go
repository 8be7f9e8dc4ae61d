//go:build bench

// Package bench measures kubectl traderx health on an environment scaled up in
// kwok to 500 Deployments and 2,000 pods, side by side with the seed's shell
// approach. Run with `make bench`; results go to docs/benchmarks.md.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/finos/traderx-plugins/pkg/health"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

const (
	namespace   = "traderx-dev"
	deployments = 500
	pods        = 2000
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) { cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{Nodes: 10})) }

// scaleUp deploys dev and fills the namespace with Deployments until there are
// 500 Deployments and 2,000 running pods.
func scaleUp(b *testing.B, c *cluster.Cluster) {
	b.Helper()
	ctx := context.Background()
	env, _ := traderx.LookupEnvironment("dev")
	units, err := manifests.Render(env)
	if err != nil {
		b.Fatal(err)
	}
	if err := cluster.Apply(ctx, c.Config, manifests.Objects(units), false); err != nil {
		b.Fatal(err)
	}
	existingDeps, existingPods := 12, 9
	fillers := deployments - existingDeps
	extra := pods - existingPods - fillers*4
	start := time.Now()
	for i := range fillers {
		replicas := int32(4)
		if i < extra {
			replicas = 5
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
			b.Fatal(err)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		b.Logf("%d/%d pods running (%s)", running, pods, time.Since(start).Round(time.Second))
		return running >= pods, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

var scaled bool

func setup(b *testing.B) *cluster.Cluster {
	c := cluster.Require(b, testCluster)
	if !scaled {
		scaleUp(b, c)
		scaled = true
	}
	return c
}

// BenchmarkHealthRun is one in-process health run: one snapshot (one LIST per
// kind) and the evaluation.
func BenchmarkHealthRun(b *testing.B) {
	c := setup(b)
	env, _ := traderx.LookupEnvironment("dev")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := health.Run(context.Background(), c.Client, env, health.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Checks) == 0 {
			b.Fatal("no checks")
		}
	}
}

// BenchmarkHealthBinary runs the real binary as users do and reports its peak
// RSS alongside the wall time.
func BenchmarkHealthBinary(b *testing.B) {
	benchBinary(b, "health", "dev")
}

// benchBinary runs kubectl-traderx with args on the scaled namespace and
// reports the peak RSS of the runs.
func benchBinary(b *testing.B, args ...string) {
	c := setup(b)
	bin := filepath.Join(os.Getenv("TRADERX_BIN_DIR"), "kubectl-traderx")
	var peak int64
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(bin, append(args, "--kubeconfig", c.Kubeconfig, "-o", "json")...)
		cmd.Env = append(os.Environ(), "CUB_SERVER=", "CUB_TOKEN=", "CUB_CONFIG="+b.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() > 1 {
			b.Fatalf("%v: %s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > peak {
			peak = ru.Maxrss
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MB")
}

// BenchmarkSeedShellBaseline runs the seed's approach: four kubectl calls per
// service.
func BenchmarkSeedShellBaseline(b *testing.B) {
	c := setup(b)
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "seed-health.sh")
	args := append([]string{script, namespace}, traderx.ServiceNames()...)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command("bash", args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}
