package confighubtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/finos/traderx-plugins/pkg/confighub"
	"github.com/finos/traderx-plugins/pkg/manifests"
	"github.com/finos/traderx-plugins/pkg/traderx"
	"github.com/finos/traderx-plugins/test/cluster"
)

var _ Backend = (*KubeBackend)(nil)

func TestDecodeObjects(t *testing.T) {
	objs, err := DecodeObjects([]byte("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"))
	if err != nil || len(objs) != 2 || objs[1].GetKind() != "ConfigMap" {
		t.Fatalf("DecodeObjects = %v, %v", objs, err)
	}
	if _, err := DecodeObjects([]byte("kind: ConfigMap\nmetadata:\n  name: b\n")); err == nil {
		t.Error("object without apiVersion accepted")
	}
}

func TestKubeconfigContexts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: one
  cluster: {server: "https://one.example:6443"}
- name: two
  cluster: {server: "https://two.example:6443"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx-one
  context: {cluster: one, user: u}
- name: ctx-two
  context: {cluster: two, user: u}
current-context: ctx-one
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	resolve := KubeconfigContexts(path)
	for _, tt := range []struct{ context, host, err string }{
		{"", "https://one.example:6443", ""},
		{"ctx-two", "https://two.example:6443", ""},
		{"ctx-three", "", `kube context "ctx-three"`},
	} {
		cfg, err := resolve(tt.context)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("context %q: error %v, want one containing %q", tt.context, err, tt.err)
			}
			continue
		}
		if err != nil || cfg.Host != tt.host {
			t.Errorf("context %q: host %v, %v; want %s", tt.context, cfg, err, tt.host)
		}
	}
}

var testCluster *cluster.Cluster

func TestMain(m *testing.M) { cluster.Exit(cluster.Main(m, &testCluster, cluster.Options{})) }

// backendFor reaches the test cluster through its kubeconfig's current
// context, as a worker beside a cluster does.
func backendFor(c *cluster.Cluster) *KubeBackend {
	return NewKubeBackend(KubeconfigContexts(c.Kubeconfig))
}

func deployment(ns, name string, podLabels map[string]string) string {
	labels := "app: " + name
	for k, v := range podLabels {
		labels += "\n        " + k + ": " + v
	}
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ` + name + `
  template:
    metadata:
      labels:
        ` + labels + `
    spec:
      containers:
      - name: app
        image: registry.example/` + name + `:1
`
}

func TestKubeBackendApplyThenWaitReady(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	ns := c.NamespaceName(t)
	cm := "probe-" + ns // no namespace: the worker puts it in "default"
	t.Cleanup(func() {
		_ = c.Client.CoreV1().ConfigMaps("default").Delete(context.Background(), cm, metav1.DeleteOptions{})
	})
	data := []byte(deployment(ns, "web", nil) +
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + cm + "\ndata:\n  k: v\n" +
		"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n")
	b := backendFor(c)
	tp := TargetParams{WaitTimeout: 90 * time.Second}

	live, err := b.Apply(ctx, tp, data, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Namespace", "kind: Deployment", "namespace: default", "uid: "} {
		if !strings.Contains(string(live), want) {
			t.Errorf("live state lacks %q:\n%s", want, live)
		}
	}
	if strings.Contains(string(live), "managedFields") {
		t.Errorf("live state has managedFields:\n%s", live)
	}
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applied := false
	for _, mf := range d.ManagedFields {
		applied = applied || mf.Manager == DefaultFieldManager && mf.Operation == metav1.ManagedFieldsOperationApply
	}
	if !applied {
		t.Errorf("managed fields %+v, want a server-side apply by %q", d.ManagedFields, DefaultFieldManager)
	}
	if _, err := b.Apply(ctx, tp, data, false); err != nil {
		t.Fatalf("re-apply: %v", err)
	}

	start := time.Now()
	statuses, err := b.WaitReady(ctx, tp, data)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ready after %s", time.Since(start).Round(time.Millisecond))
	want := []string{"apps/v1/Deployment#" + ns + "/web", "v1/ConfigMap#default/" + cm, "v1/Namespace#/" + ns}
	if len(statuses) != len(want) {
		t.Errorf("statuses %v, want keys %v", statuses, want)
	}
	for _, k := range want {
		if statuses[k].Readiness != "Ready" {
			t.Errorf("%s: %+v, want Ready", k, statuses[k])
		}
	}
	d, err = c.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || !cluster.DeploymentComplete(d) {
		t.Errorf("WaitReady returned before the rollout completed: %+v, %v", d.Status, err)
	}
}

// A Deployment whose pods crash-loop never becomes Current: the wait runs
// out at WaitTimeout and says which object is not ready.
func TestKubeBackendWaitReadyCrashLoop(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	ns := c.Namespace(t)
	data := []byte(deployment(ns, "crashy", map[string]string{cluster.SimulationLabel: cluster.SimCrashLoop}))
	b := backendFor(c)
	tp := TargetParams{WaitTimeout: 8 * time.Second}
	if _, err := b.Apply(ctx, tp, data, false); err != nil {
		t.Fatal(err)
	}
	// The pods really are crash-looping by the time the wait ends.
	if _, err := cluster.WaitPods(ctx, c.Client, ns, "app=crashy", 60*time.Second, func(pods []corev1.Pod) bool {
		for _, p := range pods {
			for _, s := range p.Status.ContainerStatuses {
				if s.RestartCount > 0 {
					return true
				}
			}
		}
		return false
	}); err != nil {
		t.Fatalf("pods never restarted: %v", err)
	}
	// kwok marks a pod ready before the crash loop starts: wait until the
	// Deployment no longer counts it available.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "crashy", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 0 && d.Status.UnavailableReplicas > 0, nil
	}); err != nil {
		t.Fatalf("the Deployment never showed its pod unavailable: %v", err)
	}

	start := time.Now()
	statuses, err := b.WaitReady(ctx, tp, data)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrWaitTimeout) {
		t.Fatalf("WaitReady = %v, want ErrWaitTimeout", err)
	}
	key := "apps/v1/Deployment#" + ns + "/crashy"
	if !strings.Contains(err.Error(), key) {
		t.Errorf("error %q does not name %s", err, key)
	}
	if r := statuses[key].Readiness; r != "InProgress" && r != "Failed" {
		t.Errorf("%s: %+v, want InProgress or Failed", key, statuses[key])
	}
	if elapsed < tp.WaitTimeout || elapsed > tp.WaitTimeout+5*time.Second {
		t.Errorf("wait took %s, want about %s", elapsed, tp.WaitTimeout)
	}
	t.Logf("%s after %s: %v", statuses[key].Readiness, elapsed.Round(time.Millisecond), err)
}

func TestKubeBackendDryRunStoresNothing(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ctx := context.Background()
	ns := c.Namespace(t)
	data := []byte(deployment(ns, "dry", nil) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n  namespace: " + ns + "\ndata:\n  k: v\n")
	live, err := backendFor(c).Apply(ctx, TargetParams{}, data, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(live), "kind: Deployment") || !strings.Contains(string(live), "k: v") {
		t.Errorf("dry-run live state:\n%s", live)
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment after a dry run: %v, want NotFound", err)
	}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ConfigMap after a dry run: %v, want NotFound", err)
	}
	// A dry run is still validated by the API server.
	bad := bytes.Replace(data, []byte("replicas: 1"), []byte("replicas: -1"), 1)
	if _, err := backendFor(c).Apply(ctx, TargetParams{}, bad, true); err == nil || !strings.Contains(err.Error(), "replicas") {
		t.Errorf("dry run of an invalid Deployment: %v, want a validation error", err)
	}
}

// traderxUnit renders the dev environment's namespace, network policies and
// first Deployment into ns: real manifests, with probes, security contexts
// and quantities the API server canonicalises.
func traderxUnit(t *testing.T, ns string) (data []byte, deploymentName, policyName string) {
	t.Helper()
	env, err := traderx.LookupEnvironment("dev")
	if err != nil {
		t.Fatal(err)
	}
	env.NamespaceOverride = ns
	units, err := manifests.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, u := range units {
		switch {
		case u.Name == manifests.NamespaceUnit || u.Name == manifests.NetworkPoliciesUnit:
		case u.Service != "" && u.Objects[0].GetKind() == "Deployment" && deploymentName == "":
			deploymentName = u.Objects[0].GetName()
		default:
			continue
		}
		objs = append(objs, u.Objects...)
	}
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" {
			policyName = o.GetName()
		}
	}
	data, err = manifests.EncodeYAML(objs)
	if err != nil {
		t.Fatal(err)
	}
	return data, deploymentName, policyName
}

func TestKubeBackendRefresh(t *testing.T) {
	c := cluster.Require(t, testCluster)
	tests := []struct {
		name string
		// change makes the cluster differ from the unit, as a person would.
		change  func(ctx context.Context, t *testing.T, ns, deploymentName, policyName string)
		drifted bool
		wantErr error
		// merged checks what a refresh would adopt into head.
		merged func(t *testing.T, merged []byte)
	}{
		{name: "untouched objects have not drifted"},
		{
			name: "kubectl set env drifts and is adopted",
			change: func(ctx context.Context, t *testing.T, ns, name, _ string) {
				// The deployment controller writes too: retry on conflicts, as kubectl does.
				err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
					d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					ct := &d.Spec.Template.Spec.Containers[0]
					ct.Env[0].Value = "9999"
					ct.Env = append(ct.Env, corev1.EnvVar{Name: "LOG_LEVEL", Value: "debug"})
					_, err = c.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-set"})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			drifted: true,
			merged: func(t *testing.T, merged []byte) {
				for _, want := range []string{"value: \"9999\"", "name: LOG_LEVEL", "value: debug"} {
					if !bytes.Contains(merged, []byte(want)) {
						t.Errorf("merged data lacks %q", want)
					}
				}
				for _, unwanted := range []string{"status:", "uid:", "resourceVersion:", "terminationMessagePath"} {
					if bytes.Contains(merged, []byte(unwanted)) {
						t.Errorf("merged data has server-written %q", unwanted)
					}
				}
			},
		},
		{
			name: "a deleted NetworkPolicy fails the refresh, as in the SDK's worker",
			change: func(ctx context.Context, t *testing.T, ns, _, policy string) {
				if err := c.Client.NetworkingV1().NetworkPolicies(ns).Delete(ctx, policy, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrLiveObjectMissing,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := c.NamespaceName(t)
			data, deploymentName, policyName := traderxUnit(t, ns)
			b := backendFor(c)
			if _, err := b.Apply(ctx, TargetParams{}, data, false); err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(ctx, t, ns, deploymentName, policyName)
			}
			merged, live, drifted, err := b.Refresh(ctx, TargetParams{}, data)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), policyName) {
					t.Fatalf("Refresh = %v, want %v naming %s", err, tt.wantErr, policyName)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if drifted != tt.drifted {
				t.Fatalf("drifted = %v, want %v; merged:\n%s", drifted, tt.drifted, merged)
			}
			if !bytes.Contains(live, []byte("name: "+deploymentName)) || bytes.Contains(live, []byte("managedFields")) {
				t.Errorf("live state:\n%s", live)
			}
			if !drifted {
				if !bytes.Equal(merged, data) {
					t.Errorf("merged data of an undrifted unit differs from the data")
				}
				return
			}
			tt.merged(t, merged)
			// Adopting the drift makes it disappear.
			if _, _, again, err := b.Refresh(ctx, TargetParams{}, merged); err != nil || again {
				t.Errorf("refresh of the merged data: drifted %v, %v; want no drift", again, err)
			}
		})
	}
}

// End to end through the protocol: a worker with the Kubernetes backend
// completes an apply only once the Deployment is ready, stays Progressing while
// pods never become ready, and a dry-run refresh reports an out-of-band change as drift
// without moving head.
func TestWorkerOnCluster(t *testing.T) {
	c := cluster.Require(t, testCluster)
	ns := c.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := NewServer()
	t.Cleanup(srv.Close)
	w, err := srv.StartWorker(ctx, "cluster-"+ns, "worker", nil, NewKubeBackend(SingleCluster(c.Config)),
		WithRetryBackoff(200*time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	hub, err := confighub.New(srv.Credentials())
	if err != nil {
		t.Fatal(err)
	}
	sp, err := hub.GetSpaceBySlug(ctx, "cluster-"+ns)
	if err != nil {
		t.Fatal(err)
	}
	target, err := w.TargetID(ctx, w.Targets()[0])
	if err != nil {
		t.Fatal(err)
	}
	apply := func(slug, data string) (*confighub.Unit, *confighub.QueuedOperation) {
		t.Helper()
		u, err := hub.CreateUnit(ctx, sp.SpaceID, confighub.Unit{Slug: slug, ToolchainType: confighub.ToolchainKubernetesYAML,
			TargetID: target, Data: []byte(data)}, uuid.Nil, uuid.Nil)
		if err != nil {
			t.Fatal(err)
		}
		op, err := hub.Apply(ctx, sp.SpaceID, u.UnitID)
		if err != nil {
			t.Fatal(err)
		}
		return u, op
	}

	good, op := apply("good", deployment(ns, "good", nil))
	if _, err := hub.WaitForOperation(ctx, sp.SpaceID, good.UnitID, op); err != nil {
		t.Fatalf("healthy Deployment: %v", err)
	}

	// Pods that never become ready: the apply never completes (still
	// Progressing after the wait). (kwok shows a crash-looping pod ready for a
	// moment, which a readiness wait may catch; an image that cannot be pulled
	// never is.)
	bad, op := apply("bad", deployment(ns, "bad", map[string]string{cluster.SimulationLabel: cluster.SimImagePullError}))
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = hub.WaitForOperation(wctx, sp.SpaceID, bad.UnitID, op)
	wcancel()
	if err == nil {
		t.Fatal("the apply of a Deployment whose pods never become ready completed")
	}
	if eu, err := hub.GetUnit(ctx, sp.SpaceID, bad.UnitID); err != nil || eu.Unit.LiveRevisionNum != 0 {
		t.Fatalf("never-ready unit went live: %+v %v", eu, err)
	}

	// Drift: change the live Deployment, then a dry-run refresh.
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, "good", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// kubectl scale: a field the unit sets, changed out of band.
	three := int32(3)
	d.Spec.Replicas = &three
	if _, err := c.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
	ops, err := hub.RefreshUnits(ctx, "SpaceID = '"+sp.SpaceID.String()+"' AND Slug = 'good'", true)
	if err != nil || len(ops) != 1 {
		t.Fatalf("refresh: %v %+v", err, ops)
	}
	ev, err := hub.WaitForOperation(ctx, sp.SpaceID, good.UnitID, ops[0].Action)
	if err != nil || ev.Result != confighub.ResultRefreshAndDrifted {
		t.Fatalf("refresh after a live change: %+v %v", ev, err)
	}
	if eu, err := hub.GetUnit(ctx, sp.SpaceID, good.UnitID); err != nil || eu.Unit.HeadRevisionNum != 1 {
		t.Errorf("a dry-run refresh moved head: %+v %v", eu, err)
	}
}

// The worker's client runs at controller-runtime's rate limits unless the
// config sets its own; the caller's config is not changed.
func TestWorkerRateLimits(t *testing.T) {
	tests := []struct {
		name      string
		qps       float32
		burst     int
		wantQPS   float32
		wantBurst int
	}{
		{"unset: controller-runtime's", 0, 0, 20, 30},
		{"set: kept", 50, 100, 50, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &rest.Config{Host: "https://example.invalid", QPS: tt.qps, Burst: tt.burst}
			got := workerRateLimits(in)
			if got.QPS != tt.wantQPS || got.Burst != tt.wantBurst {
				t.Errorf("QPS %v burst %d, want %v and %d", got.QPS, got.Burst, tt.wantQPS, tt.wantBurst)
			}
			if in.QPS != tt.qps || in.Burst != tt.burst {
				t.Errorf("the caller's config changed to QPS %v burst %d", in.QPS, in.Burst)
			}
		})
	}
}
