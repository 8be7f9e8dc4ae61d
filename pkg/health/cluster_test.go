package health

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/finos/traderx-plugins/pkg/check"
	pkgcluster "github.com/finos/traderx-plugins/pkg/cluster"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{
		Users:  []string{"viewer"},
		Groups: map[string][]string{"viewer": {manifests.ViewersGroup}},
	}))
}

// deployDev applies the dev environment into a namespace of the test's own
// and waits until it is Available.
func deployDev(t *testing.T) (*cluster.Cluster, traderx.Environment) {
	t.Helper()
	c := cluster.Require(t, testCluster)
	env, _ := traderx.LookupEnvironment("dev")
	env.NamespaceOverride = c.NamespaceName(t)
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cluster.Apply(ctx, c.Config, manifests.Objects(units), false); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitDeploymentsAvailable(ctx, c.Client, env.Namespace(), 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	return c, env
}

// healthUntil re-runs health until the named check has the wanted status, and
// returns that report; the cluster needs a moment to react to a change.
func healthUntil(t *testing.T, c *cluster.Cluster, env traderx.Environment, o Options, target, name string, want check.Status) *check.Report {
	t.Helper()
	var last *check.Report
	err := wait.PollUntilContextTimeout(context.Background(), 300*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err := Run(ctx, c.Client, env, o)
		if err != nil {
			return false, err
		}
		last = r
		ch := find(r, target, name)
		return ch != nil && ch.Status == want, nil
	})
	if err != nil {
		got := "absent"
		if last != nil {
			if ch := find(last, target, name); ch != nil {
				got = string(ch.Status) + ": " + ch.Message
			}
		}
		t.Fatalf("%s/%s never became %s (last: %s): %v", target, name, want, got, err)
	}
	return last
}

func patchTemplateLabel(t *testing.T, c *cluster.Cluster, ns, deployment, key, value string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{key: value}}}}})
	if _, err := c.Client.AppsV1().Deployments(ns).Patch(context.Background(), deployment, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCleanDevIsHealthy(t *testing.T) {
	c, env := deployDev(t)
	// Available Deployments come a moment before their EndpointSlices, so
	// judge as an operator with --wait would.
	var r *check.Report
	_ = wait.PollUntilContextTimeout(context.Background(), 300*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		r, err = Run(ctx, c.Client, env, Options{})
		return err == nil && r.Verdict == check.VerdictHealthy, err
	})
	if r == nil || r.Verdict != check.VerdictHealthy || r.ExitCode(check.FailOnFail) != 0 {
		if r != nil {
			for _, ch := range r.Checks {
				if ch.Status != check.StatusPass {
					t.Logf("%s %s %s: %s", ch.Status, ch.Target, ch.Name, ch.Message)
				}
			}
		}
		t.Fatalf("never HEALTHY: %+v", r)
	}
	if r.Summary.Skipped != 1 {
		t.Errorf("skipped %d, want exactly the ConfigHub sync check", r.Summary.Skipped)
	}
}

// Each problem is produced for real on the control plane and the right check
// fails for the right reason.
func TestEachCheckFailsForTheRightReason(t *testing.T) {
	tests := []struct {
		name         string
		break_       func(t *testing.T, c *cluster.Cluster, ns string)
		opts         Options
		target, chk  string
		wantStatus   check.Status
		wantInMessge string
	}{
		{"deleted deployment", func(t *testing.T, c *cluster.Cluster, ns string) {
			if err := c.Client.AppsV1().Deployments(ns).Delete(context.Background(), "trade-feed", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, Options{}, "trade-feed", "deployment-exists", check.StatusFail, "not found"},
		{"scaled to zero", func(t *testing.T, c *cluster.Cluster, ns string) {
			scale(t, c, ns, "people-service", 0)
		}, Options{}, "people-service", "rollout-complete", check.StatusFail, "scaled to zero"},
		{"crash-looping pod", func(t *testing.T, c *cluster.Cluster, ns string) {
			patchTemplateLabel(t, c, ns, "trade-service-blue", cluster.SimulationLabel, cluster.SimCrashLoop)
		}, Options{}, "trade-service", "pods-crashloop", check.StatusFail, "CrashLoopBackOff"},
		{"failed pod", func(t *testing.T, c *cluster.Cluster, ns string) {
			patchTemplateLabel(t, c, ns, "trade-processor", cluster.FailedPodLabel, "true")
		}, Options{}, "trade-processor", "pods-failed", check.StatusFail, "phase Failed"},
		{"image pull error", func(t *testing.T, c *cluster.Cluster, ns string) {
			patchTemplateLabel(t, c, ns, "reference-data-blue", cluster.SimulationLabel, cluster.SimImagePullError)
		}, Options{}, "reference-data", "pods-image-pull", check.StatusFail, "ImagePullBackOff"},
		{"not-ready pod", func(t *testing.T, c *cluster.Cluster, ns string) {
			pods, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web-front-end-angular"})
			if err != nil || len(pods.Items) == 0 {
				t.Fatalf("pods: %v", err)
			}
			if err := cluster.MarkPodNotReady(context.Background(), c.Client, ns, pods.Items[0].Name); err != nil {
				t.Fatal(err)
			}
		}, Options{NotReadyGrace: time.Nanosecond}, "web-front-end-angular", "pods-ready", check.StatusFail, "not ready"},
		{"deleted service", func(t *testing.T, c *cluster.Cluster, ns string) {
			if err := c.Client.CoreV1().Services(ns).Delete(context.Background(), "people-service", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, Options{}, "people-service", "service-exists", check.StatusFail, "not found"},
		{"dependency down", func(t *testing.T, c *cluster.Cluster, ns string) {
			scale(t, c, ns, "database", 0)
		}, Options{}, "position-service", "depends-on-database", check.StatusFail, "dependency database is down"},
		{"ingress backend missing", func(t *testing.T, c *cluster.Cluster, ns string) {
			if err := c.Client.CoreV1().Services(ns).Delete(context.Background(), "trade-feed", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, Options{}, "ingress/traderx-web", "backends-exist", check.StatusFail, "/socket.io/ → Service trade-feed missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, env := deployDev(t)
			tt.break_(t, c, env.Namespace())
			r := healthUntil(t, c, env, tt.opts, tt.target, tt.chk, tt.wantStatus)
			ch := find(r, tt.target, tt.chk)
			if !strings.Contains(ch.Message, tt.wantInMessge) {
				t.Errorf("%s/%s message %q, want it to say %q", tt.target, tt.chk, ch.Message, tt.wantInMessge)
			}
			if r.Verdict != check.VerdictUnhealthy || r.ExitCode(check.FailOnFail) != check.ExitFailed {
				t.Errorf("verdict %s exit %d, want UNHEALTHY exit 1", r.Verdict, r.ExitCode(check.FailOnFail))
			}
		})
	}
}

func TestMissingNamespace(t *testing.T) {
	c := cluster.Require(t, testCluster)
	env, _ := traderx.LookupEnvironment("staging")
	env.NamespaceOverride = "does-not-exist"
	r, err := Run(context.Background(), c.Client, env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ch := find(r, "namespace/does-not-exist", "namespace-active"); ch == nil || ch.Status != check.StatusFail || r.Verdict != check.VerdictUnhealthy {
		t.Fatalf("namespace check %+v, verdict %s", ch, r.Verdict)
	}
}

func scale(t *testing.T, c *cluster.Cluster, ns, name string, replicas int32) {
	t.Helper()
	s, err := c.Client.AppsV1().Deployments(ns).GetScale(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = replicas
	if _, err := c.Client.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Health works with nothing but the rendered traderx-viewer role, fails with a
// "forbidden: needs list on X" error when the role loses a permission, and the
// role itself admits no write.
func TestViewerRoleIsEnoughAndNoMore(t *testing.T) {
	c, env := deployDev(t)
	ctx := context.Background()
	if err := cluster.Apply(ctx, c.Config, manifests.RBAC(env), false); err != nil {
		t.Fatal(err)
	}
	viewerCfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigFor("viewer"))
	if err != nil {
		t.Fatal(err)
	}
	viewer := kubernetes.NewForConfigOrDie(pkgcluster.ReadOnly(viewerCfg))
	var r *check.Report
	// RBAC bindings and EndpointSlices both settle within moments.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		r, err = Run(ctx, viewer, env, Options{})
		return err == nil && r.Verdict == check.VerdictHealthy, nil
	})
	if err != nil || r.Verdict != check.VerdictHealthy {
		t.Fatalf("health as traderx-viewer: %v, verdict %v", err, r)
	}

	// A write is denied by the API server itself, not only by our transport.
	raw := kubernetes.NewForConfigOrDie(viewerCfg)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}
	if _, err := raw.CoreV1().ConfigMaps(env.Namespace()).Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("viewer create configmap: %v, want Forbidden", err)
	}
	if _, err := viewer.CoreV1().ConfigMaps(env.Namespace()).Create(ctx, cm, metav1.CreateOptions{}); err == nil || !errors.Is(err, pkgcluster.ErrWriteRefused) {
		t.Errorf("read-only client create: %v, want ErrWriteRefused", err)
	}

	// Remove one permission: the run fails and says which.
	role, err := c.Client.RbacV1().ClusterRoles().Get(ctx, manifests.ViewerRole, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var kept []rbacv1.PolicyRule
	for _, rule := range role.Rules {
		if !slices.Contains(rule.Resources, "endpointslices") {
			kept = append(kept, rule)
		}
	}
	role.Rules = kept
	if _, err := c.Client.RbacV1().ClusterRoles().Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Apply(context.Background(), c.Config, manifests.RBAC(env), false) })
	var runErr error
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, runErr = Run(ctx, viewer, env, Options{})
		return runErr != nil, nil
	})
	if runErr == nil || !strings.Contains(runErr.Error(), "forbidden: needs list on endpointslices in namespace "+env.Namespace()) {
		t.Fatalf("health without list endpointslices: %v", runErr)
	}
}
